package vault

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"enrollstation/internal/tpmtest"
)

func newTestTPM(t *testing.T, sim *tpmtest.Sim) *TPM {
	t.Helper()
	tp, err := NewTPM(sim.TPM(), "software")
	if err != nil {
		t.Fatal(err)
	}
	return tp
}

// The acceptance test of issue 2: a sealed key survives a TPM restart on the same state.
func TestSealUnsealSurvivesRestart(t *testing.T) {
	sim := tpmtest.Start(t)
	tp := newTestTPM(t, sim)
	if tp.Info().Manufacturer == "" {
		t.Errorf("no manufacturer in %+v", tp.Info())
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	blob, err := tp.Seal(secret, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob.Private, secret) || bytes.Contains(blob.Public, secret) {
		t.Fatal("secret in clear in the blob")
	}
	got, err := tp.Unseal(blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal = %x, %v; want %x", got, err, secret)
	}

	sim.Restart()
	tp = newTestTPM(t, sim)
	got, err = tp.Unseal(blob)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("after restart: Unseal = %x, %v; want %x", got, err, secret)
	}
}

func TestUnsealOtherTPM(t *testing.T) {
	a := newTestTPM(t, tpmtest.Start(t))
	b := newTestTPM(t, tpmtest.Start(t))
	blob, err := a.Seal([]byte("0123456789abcdef0123456789abcdef"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Unseal(blob); !errors.Is(err, ErrWrongTPM) {
		t.Fatalf("Unseal on another TPM: %v, want ErrWrongTPM", err)
	}
	key, err := a.CreateSigningKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := b.Signer(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	if _, err := s.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrWrongTPM) {
		t.Fatalf("Sign on another TPM: %v, want ErrWrongTPM", err)
	}
}

func extendPCR(t *testing.T, tpm transport.TPM, pcr int) {
	t.Helper()
	d := sha256.Sum256([]byte("boot chain changed"))
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
			HashAlg: tpm2.TPMAlgSHA256, Digest: d[:],
		}}},
	}.Execute(tpm)
	if err != nil {
		t.Fatal(err)
	}
}

func TestSealPCRPolicy(t *testing.T) {
	sim := tpmtest.Start(t)
	tp := newTestTPM(t, sim)
	secret := []byte("0123456789abcdef0123456789abcdef")
	blob, err := tp.Seal(secret, []int{7})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tp.Unseal(blob); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	extendPCR(t, sim.TPM(), 7)
	if _, err := tp.Unseal(blob); !errors.Is(err, ErrPCRPolicy) {
		t.Fatalf("Unseal after PCR 7 changed: %v, want ErrPCRPolicy", err)
	}
	// A reboot resets PCRs to the state the key was sealed in.
	sim.Restart()
	tp = newTestTPM(t, sim)
	if got, err := tp.Unseal(blob); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal after restart = %q, %v", got, err)
	}
}

func TestSignerVerifies(t *testing.T) {
	tp := newTestTPM(t, tpmtest.Start(t))
	blob, err := tp.CreateSigningKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	s, err := tp.Signer(blob, nil)
	if err != nil {
		t.Fatal(err)
	}
	var _ crypto.Signer = s
	msg := []byte("bundle manifest")
	d := sha256.Sum256(msg)
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(s.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatal("signature does not verify")
	}
	other := sha256.Sum256([]byte("other"))
	if ecdsa.VerifyASN1(s.PublicKey(), other[:], sig) {
		t.Fatal("signature verifies for another digest")
	}
	if _, err := s.Sign(nil, d[:20], crypto.SHA1); err == nil {
		t.Fatal("SHA-1 digest accepted")
	}
}

func TestSignerAuthAndLockout(t *testing.T) {
	tp := newTestTPM(t, tpmtest.Start(t))
	blob, err := tp.CreateSigningKey([]byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("approve"))
	good, _ := tp.Signer(blob, []byte("right"))
	if _, err := good.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	bad, _ := tp.Signer(blob, []byte("wrong"))
	sawAuth := false
	for i := 0; i < 50; i++ {
		_, err := bad.Sign(nil, d[:], crypto.SHA256)
		if errors.Is(err, ErrTPMLockout) {
			if !sawAuth {
				t.Fatal("lockout before any auth failure")
			}
			// In lockout even the right value is refused.
			if _, err := good.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrTPMLockout) {
				t.Fatalf("right auth in lockout: %v, want ErrTPMLockout", err)
			}
			return
		}
		if !errors.Is(err, ErrTPMAuth) {
			t.Fatalf("wrong auth: %v, want ErrTPMAuth", err)
		}
		sawAuth = true
	}
	t.Fatal("no lockout after 50 wrong authorization values")
}

func TestChangeKeyAuth(t *testing.T) {
	tp := newTestTPM(t, tpmtest.Start(t))
	blob, err := tp.CreateSigningKey([]byte("old"))
	if err != nil {
		t.Fatal(err)
	}
	nb, err := tp.ChangeKeyAuth(blob, []byte("old"), []byte("new"))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("x"))
	s, _ := tp.Signer(nb, []byte("new"))
	if _, err := s.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	s, _ = tp.Signer(nb, []byte("old"))
	if _, err := s.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrTPMAuth) {
		t.Fatalf("old auth on new blob: %v", err)
	}
}

func TestCounterMonotonicAcrossRestart(t *testing.T) {
	sim := tpmtest.Start(t)
	tp := newTestTPM(t, sim)
	c, err := tp.Counter(DefaultCounterIndex)
	if err != nil {
		t.Fatal(err)
	}
	// A new counter on a TPM that never had one reads 0, so the first bundle is number 1.
	v0, err := c.Read()
	if err != nil || v0 != 0 {
		t.Fatalf("new counter Read = %d, %v; want 0", v0, err)
	}
	v1, err := c.Increment()
	if err != nil || v1 != 1 {
		t.Fatalf("first Increment = %d, %v; want 1", v1, err)
	}
	sim.Restart()
	tp = newTestTPM(t, sim)
	c, err = tp.Counter(DefaultCounterIndex)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c.Read(); err != nil || v != v1 {
		t.Fatalf("after restart Read = %d, %v; want %d", v, err, v1)
	}
	if v, err := c.Increment(); err != nil || v != v1+1 {
		t.Fatalf("after restart Increment = %d, %v; want %d", v, err, v1+1)
	}
}

// recorder keeps every command and response sent over a TPM connection.
type recorder struct {
	t   transport.TPM
	all [][]byte
}

func (r *recorder) Send(cmd []byte) ([]byte, error) {
	rsp, err := r.t.Send(cmd)
	r.all = append(r.all, append([]byte(nil), cmd...), append([]byte(nil), rsp...))
	return rsp, err
}

// Secrets (the store key, authorization values) never cross the TPM connection in
// clear: a bus sniffer on a stolen machine learns nothing.
func TestSecretsNotInClearOnTheBus(t *testing.T) {
	sim := tpmtest.Start(t)
	rec := &recorder{t: sim.TPM()}
	tp, err := NewTPM(rec, "software")
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte("STORE-KEY-0123456789abcdef-STORE")
	auth := []byte("supervisor-auth-value-0123456789")
	newAuth := []byte("supervisor-new-auth-value-012345")
	for _, pcrs := range [][]int{nil, {7}} {
		blob, err := tp.Seal(secret, pcrs)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := tp.Unseal(blob); err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("Unseal = %q, %v", got, err)
		}
	}
	key, err := tp.CreateSigningKey(auth)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := tp.Signer(key, auth)
	d := sha256.Sum256([]byte("x"))
	if _, err := s.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.ChangeKeyAuth(key, auth, newAuth); err != nil {
		t.Fatal(err)
	}
	for i, msg := range rec.all {
		for _, needle := range [][]byte{secret, auth, newAuth, secret[:16], auth[:16], newAuth[:16]} {
			if bytes.Contains(msg, needle) {
				t.Fatalf("message %d carries %q in clear", i, needle)
			}
		}
	}
	if len(rec.all) < 20 {
		t.Fatalf("only %d messages recorded", len(rec.all))
	}
}

func TestOpenTPMSpecs(t *testing.T) {
	data := t.TempDir()
	tp, err := OpenTPM("swtpm", data)
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if info := tp.Info(); info.Kind != "software" || info.Manufacturer == "" || info.Firmware == "" {
		t.Fatalf("info %+v", info)
	}
	// A second process on the same data directory would share the software TPM's state.
	_, err = OpenTPM("swtpm", data)
	var inUse *InUseError
	if !errors.As(err, &inUse) || inUse.Dir != data {
		t.Fatalf("second swtpm on %s: %v, want InUseError", data, err)
	}
	if _, err := os.Stat("/dev/tpmrm0"); err != nil {
		if _, err := OpenTPM("auto", t.TempDir()); !errors.Is(err, ErrNoTPM) {
			t.Fatalf("auto without a TPM: %v, want ErrNoTPM", err)
		}
	}
}
