package vault

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"testing"

	"github.com/google/go-tpm/tpm2"

	"enrollstation/internal/swtpm"
	"enrollstation/internal/tpmtest"
)

func testQualify(role, id string) []byte {
	s := sha256.Sum256([]byte(role + "/" + id))
	return s[:]
}

// loadedHandles counts the transient objects and sessions the TPM holds.
func loadedHandles(t *testing.T, tp *TPM) int {
	t.Helper()
	n := 0
	for _, first := range []tpm2.TPMHandle{0x80000000, 0x02000000, 0x03000000} {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: uint32(first), PropertyCount: 64}.Execute(tp.t)
		if err != nil {
			t.Fatal(err)
		}
		h, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range h.Handle {
			if x>>24 == first>>24 {
				n++
			}
		}
	}
	return n
}

func TestAttestActivate(t *testing.T) {
	sim := tpmtest.StartWithEK(t, swtpm.DefaultCADir)
	st := initStation(t, sim, t.TempDir(), Config{})
	_, sup, _ := people(t, st)
	admin := login(t, st, "root", adminPW)

	// No attestation key yet: exporting without an administrator, or activating, fails.
	if _, err := st.Attest(nil, testQualify); !errors.Is(err, ErrNoAttestationKey) {
		t.Fatalf("attest without an attestation key or administrator: %v", err)
	}
	if _, err := st.Attest(sup, testQualify); !errors.Is(err, ErrForbidden) {
		t.Fatalf("attest by a supervisor: %v", err)
	}
	ev, err := st.Attest(admin, testQualify)
	if err != nil {
		t.Fatal(err)
	}
	if n := loadedHandles(t, st.TPM()); n != 0 {
		t.Errorf("%d handles left loaded after Attest", n)
	}
	cert, err := x509.ParseCertificate(ev.EKCertificates[0])
	if err != nil {
		t.Fatalf("EK certificate: %v", err)
	}
	ek, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.EKPublic)
	if err != nil {
		t.Fatal(err)
	}
	if k, _ := tpm2.Pub(*ek); !publicKeyEqual(k, cert.PublicKey) {
		t.Fatal("the EK is not the certified key")
	}
	// Station, sam and sue (supervisors) are certified, in that order.
	var ids []string
	for _, k := range ev.Keys {
		ids = append(ids, k.Role+":"+k.ID)
	}
	if want := []string{"station:" + st.ID(), "supervisor:sam", "supervisor:sue"}; len(ids) != 3 || ids[0] != want[0] || ids[1] != want[1] || ids[2] != want[2] {
		t.Fatalf("certified keys %v, want %v", ids, want)
	}
	// The same attestation key next time, without an administrator.
	ev2, err := st.Attest(nil, testQualify)
	if err != nil || !bytes.Equal(ev2.AKPublic, ev.AKPublic) {
		t.Fatalf("second attest: %v, same key %v", err, err == nil && bytes.Equal(ev2.AKPublic, ev.AKPublic))
	}

	// A credential for the attestation key under the EK comes back out; for another
	// name it does not.
	akPub, _ := tpm2.Unmarshal[tpm2.TPMTPublic](ev.AKPublic)
	akName, _ := tpm2.ObjectName(akPub)
	encKey, err := tpm2.ImportEncapsulationKey(ek)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("0123456789abcdef0123456789abcdef")
	blob, enc, err := tpm2.CreateCredential(rand.Reader, encKey, akName.Buffer, secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(sup, akName.Buffer, blob, enc); !errors.Is(err, ErrForbidden) {
		t.Fatalf("activate by a supervisor: %v", err)
	}
	got, err := st.Activate(admin, akName.Buffer, blob, enc)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("activate: %v, secret %q", err, got)
	}
	if n := loadedHandles(t, st.TPM()); n != 0 {
		t.Errorf("%d handles left loaded after Activate", n)
	}
	other := append([]byte(nil), akName.Buffer...)
	other[len(other)-1] ^= 1
	if _, err := st.Activate(admin, other, blob, enc); !errors.Is(err, ErrWrongChallenge) {
		t.Fatalf("activate for another key name: %v", err)
	}
	blob2, enc2, _ := tpm2.CreateCredential(rand.Reader, encKey, other, secret)
	if _, err := st.Activate(admin, akName.Buffer, blob2, enc2); err == nil {
		t.Fatal("a credential made for another key name was activated")
	}
	if n := loadedHandles(t, st.TPM()); n != 0 {
		t.Errorf("%d handles left loaded after a failed Activate", n)
	}
}

func TestAttestWithoutEKCertificate(t *testing.T) {
	sim := tpmtest.Start(t) // a bare swtpm: no EK certificate
	st := initStation(t, sim, t.TempDir(), Config{})
	if _, err := st.Attest(login(t, st, "root", adminPW), testQualify); !errors.Is(err, ErrNoEKCertificate) {
		t.Fatalf("attest on a TPM without an EK certificate: %v", err)
	}
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
