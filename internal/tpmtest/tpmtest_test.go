package tpmtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

func TestStartRestart(t *testing.T) {
	s := Start(t)
	if _, err := (tpm2.GetRandom{BytesRequested: 16}).Execute(s.TPM()); err != nil {
		t.Fatal(err)
	}
	// Primaries are derived from the persistent seed, so a restart gives the same SRK.
	name := func() []byte {
		rsp, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(s.TPM())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := (tpm2.FlushContext{FlushHandle: rsp.ObjectHandle}).Execute(s.TPM()); err != nil {
			t.Fatal(err)
		}
		return rsp.Name.Buffer
	}
	before := name()
	s.Restart()
	if after := name(); !bytes.Equal(before, after) {
		t.Fatalf("SRK name changed across restart: %x vs %x", before, after)
	}
	if _, err := os.Stat(filepath.Join(s.StateDir(), "tpm2-00.permall")); err != nil {
		t.Fatalf("no swtpm state in StateDir: %v", err)
	}
	// A second TPM has another seed.
	o := Start(t)
	rsp, err := tpm2.CreatePrimary{PrimaryHandle: tpm2.TPMRHOwner, InPublic: tpm2.New2B(tpm2.ECCSRKTemplate)}.Execute(o.TPM())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(rsp.Name.Buffer, before) {
		t.Fatal("two fresh swtpm instances share a seed")
	}
}

// ResetLockout's hand-made command is accepted by a TPM (and so clears a lockout the
// device tests leave behind).
func TestResetLockout(t *testing.T) {
	s := Start(t)
	if err := s.ResetLockout(); err != nil {
		t.Fatal(err)
	}
}
