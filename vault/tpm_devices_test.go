//go:build devices

// Tests of the TPM path against the kernel's TPM driver and resource manager:
// scripts/test-devices runs them in a QEMU guest whose TPM CRB device (backed by swtpm)
// the kernel drives as a hardware TPM, with ENROLLSTATION_TEST_TPM=/dev/tpmrm0. They fail
// (never skip) without a device, so they cannot pass by accident on the host.

package vault

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"enrollstation/internal/tpmtest"
)

func deviceTPM(t *testing.T) (*tpmtest.Sim, *TPM) {
	t.Helper()
	sim := tpmtest.Device(t)
	tp, err := NewTPM(sim.TPM(), "hardware")
	if err != nil {
		t.Fatal(err)
	}
	return sim, tp
}

// spaceHandles lists the transient objects and loaded sessions a connection holds. On
// /dev/tpmrm0 each open file is its own resource-manager space and sees only its own
// transient objects; sessions are listed TPM-wide.
func spaceHandles(t *testing.T, tpm transport.TPM) (transient, sessions []tpm2.TPMHandle) {
	t.Helper()
	list := func(first uint32) []tpm2.TPMHandle {
		rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapHandles, Property: first, PropertyCount: 64}.Execute(tpm)
		if err != nil {
			t.Fatalf("TPM2_GetCapability(handles %#x): %v", first, err)
		}
		h, err := rsp.CapabilityData.Data.Handles()
		if err != nil {
			t.Fatal(err)
		}
		var out []tpm2.TPMHandle
		for _, x := range h.Handle {
			if uint32(x)>>24 == first>>24 {
				out = append(out, x)
			}
		}
		return out
	}
	return list(0x80000000), append(list(0x02000000), list(0x03000000)...)
}

// tpmLoad reads the TPM-wide counts of loaded objects and active sessions.
func tpmLoad(t *testing.T, tpm transport.TPM) (loaded, active uint32) {
	t.Helper()
	rsp, err := tpm2.GetCapability{Capability: tpm2.TPMCapTPMProperties, Property: uint32(tpm2.TPMPTHRLoaded), PropertyCount: 3}.Execute(tpm)
	if err != nil {
		t.Fatalf("TPM2_GetCapability(properties): %v", err)
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range props.TPMProperty {
		switch p.Property {
		case tpm2.TPMPTHRLoaded:
			loaded = p.Value
		case tpm2.TPMPTHRActive:
			active = p.Value
		}
	}
	return loaded, active
}

func noHandlesLeft(t *testing.T, tpm transport.TPM, when string) {
	t.Helper()
	if tr, s := spaceHandles(t, tpm); len(tr) > 0 || len(s) > 0 {
		t.Fatalf("%s: transient objects %v and sessions %v left loaded", when, tr, s)
	}
}

// The storage root key is re-derived identically on every connection and flushed.
func TestDeviceSRK(t *testing.T) {
	sim, tp := deviceTPM(t)
	if info := tp.Info(); info.Kind != "hardware" || info.Manufacturer == "" || info.Firmware == "" {
		t.Fatalf("info %+v", info)
	}
	name := func(tp *TPM) []byte {
		tp.mu.Lock()
		defer tp.mu.Unlock()
		srk, done, err := tp.srk()
		if err != nil {
			t.Fatal(err)
		}
		defer done()
		return srk.Name.Buffer
	}
	a := name(tp)
	noHandlesLeft(t, sim.TPM(), "after the SRK")
	other, err := NewTPM(sim.Dial(), "hardware")
	if err != nil {
		t.Fatal(err)
	}
	if b := name(other); !bytes.Equal(a, b) {
		t.Fatalf("SRK differs between two connections: %x vs %x", a, b)
	}
	t.Logf("TPM: %s %s via %s", tp.Info().Manufacturer, tp.Info().Firmware, sim.Addr())
}

// The store key is sealed, unsealed, and unsealed again after the connection closed (the
// kernel flushed everything of it), never crossing the bus in clear.
func TestDeviceStoreKeySealUnseal(t *testing.T) {
	sim, tp := deviceTPM(t)
	key := make([]byte, 32)
	rand.Read(key)
	blob, err := tp.Seal(key, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tp.Unseal(blob); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unseal = %x, %v", got, err)
	}
	noHandlesLeft(t, sim.TPM(), "after seal and unseal")
	sim.CloseConn()
	tp2, err := NewTPM(sim.TPM(), "hardware")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tp2.Unseal(blob); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unseal on a new connection = %x, %v", got, err)
	}
	if _, err := tp2.Unseal(&KeyBlob{Public: blob.Public, Private: append([]byte(nil), blob.Private[:len(blob.Private)-1]...)}); err == nil {
		t.Fatal("a truncated blob unsealed")
	}
}

// The store key bound to a PCR: a real PCR_Extend makes unsealing fail with the
// documented message; resetting the PCR (16, the debug PCR, is resettable) makes it
// unseal again, as a reboot into the same boot chain would.
func TestDevicePCRPolicy(t *testing.T) {
	sim, tp := deviceTPM(t)
	const pcr = 16
	reset := func() {
		t.Helper()
		if _, err := (tpm2.PCRReset{PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)}}).Execute(sim.TPM()); err != nil {
			t.Fatalf("PCR_Reset(%d): %v", pcr, err)
		}
	}
	reset()
	key := []byte("0123456789abcdef0123456789abcdef")
	blob, err := tp.Seal(key, []int{pcr})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tp.Unseal(blob); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unseal = %q, %v", got, err)
	}
	extendPCR(t, sim.TPM(), pcr)
	_, err = tp.Unseal(blob)
	if !errors.Is(err, ErrPCRPolicy) || !strings.Contains(err.Error(), "boot state (PCRs), which has changed") {
		t.Fatalf("Unseal after PCR %d changed: %v, want ErrPCRPolicy", pcr, err)
	}
	noHandlesLeft(t, sim.TPM(), "after a failed policy session")
	reset()
	if got, err := tp.Unseal(blob); err != nil || !bytes.Equal(got, key) {
		t.Fatalf("Unseal after PCR_Reset = %q, %v", got, err)
	}
}

// The station's signing key signs on the TPM; the signature verifies with its public key.
func TestDeviceStationKeySign(t *testing.T) {
	sim, tp := deviceTPM(t)
	st, err := Init(t.TempDir(), tp, Config{KDF: testKDF}, InitOptions{Name: "guest", Admin: "root", AdminPassword: adminPW})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	d := sha256.Sum256([]byte("bundle manifest"))
	sig, err := st.Signer().Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if !ecdsa.VerifyASN1(st.PublicKey(), d[:], sig) {
		t.Fatal("station signature does not verify")
	}
	if s, err := st.Status(); err != nil || s.TPM.Kind != "hardware" {
		t.Fatalf("status %+v, %v", s, err)
	}
	noHandlesLeft(t, sim.TPM(), "after signing")
}

// The NV counter counts on, also across connections.
func TestDeviceNVCounter(t *testing.T) {
	sim, tp := deviceTPM(t)
	const index = DefaultCounterIndex + 0x10 // not the stations' own
	c, err := tp.Counter(index)
	if err != nil {
		t.Fatal(err)
	}
	v0, err := c.Read()
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(1); i <= 3; i++ {
		if v, err := c.Increment(); err != nil || v != v0+i {
			t.Fatalf("Increment %d = %d, %v; want %d", i, v, err, v0+i)
		}
	}
	sim.CloseConn()
	tp2, err := NewTPM(sim.TPM(), "hardware")
	if err != nil {
		t.Fatal(err)
	}
	c2, err := tp2.Counter(index)
	if err != nil {
		t.Fatal(err)
	}
	if v, err := c2.Read(); err != nil || v != v0+3 {
		t.Fatalf("Read on a new connection = %d, %v; want %d", v, err, v0+3)
	}
}

// Wrong authorization values end in the TPM's dictionary-attack lockout with the
// documented message; the right value is refused too until a technician resets it.
func TestDeviceLockoutMessage(t *testing.T) {
	sim, tp := deviceTPM(t)
	blob, err := tp.CreateSigningKey([]byte("right"))
	if err != nil {
		t.Fatal(err)
	}
	d := sha256.Sum256([]byte("approve"))
	good, _ := tp.Signer(blob, []byte("right"))
	bad, _ := tp.Signer(blob, []byte("wrong"))
	tries := 0
	for ; tries < 50; tries++ {
		_, err := bad.Sign(nil, d[:], crypto.SHA256)
		if errors.Is(err, ErrTPMLockout) {
			if !strings.Contains(err.Error(), "dictionary-attack lockout after repeated wrong passwords") {
				t.Errorf("lockout message: %v", err)
			}
			break
		}
		if !errors.Is(err, ErrTPMAuth) {
			t.Fatalf("wrong auth: %v, want ErrTPMAuth", err)
		}
	}
	if tries == 0 || tries == 50 {
		t.Fatalf("lockout after %d wrong values", tries)
	}
	if _, err := good.Sign(nil, d[:], crypto.SHA256); !errors.Is(err, ErrTPMLockout) {
		t.Fatalf("right auth in lockout: %v, want ErrTPMLockout", err)
	}
	if err := sim.ResetLockout(); err != nil {
		t.Fatal(err)
	}
	if _, err := good.Sign(nil, d[:], crypto.SHA256); err != nil {
		t.Fatalf("right auth after the lockout reset: %v", err)
	}
	t.Logf("TPM: lockout after %d wrong authorization values", tries)
}

// The station opened and closed 50 times, each on a fresh /dev/tpmrm0 connection, leaves
// no transient object or session behind, neither in its connection before closing nor
// TPM-wide afterwards.
func TestDeviceStationOpenClose50(t *testing.T) {
	sim := tpmtest.Device(t)
	dev := sim.Addr()
	dir := t.TempDir()
	tp, err := OpenTPM(dev, dir)
	if err != nil {
		t.Fatal(err)
	}
	st, err := Init(dir, tp, Config{KDF: testKDF}, InitOptions{Name: "guest", Admin: "root", AdminPassword: adminPW})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	tp.Close()
	loaded0, active0 := tpmLoad(t, sim.TPM())
	d := sha256.Sum256([]byte("x"))
	for i := 0; i < 50; i++ {
		tp, err := OpenTPM(dev, dir)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		st, err := Open(dir, tp, Config{KDF: testKDF})
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		if _, err := st.Signer().Sign(nil, d[:], crypto.SHA256); err != nil {
			t.Fatalf("sign %d: %v", i, err)
		}
		if _, err := st.BundleSeq(); err != nil {
			t.Fatalf("counter %d: %v", i, err)
		}
		noHandlesLeft(t, tp.t, "station open")
		if err := st.Close(); err != nil {
			t.Fatalf("close %d: %v", i, err)
		}
		if err := tp.Close(); err != nil {
			t.Fatalf("closing the TPM %d: %v", i, err)
		}
		if loaded, active := tpmLoad(t, sim.TPM()); loaded != loaded0 || active != active0 {
			t.Fatalf("after %d open/close cycles the TPM has %d objects loaded and %d sessions active (before: %d, %d)", i+1, loaded, active, loaded0, active0)
		}
	}
	t.Logf("TPM: station opened and closed 50 times on fresh %s connections: %d objects loaded, %d sessions active before and after", dev, loaded0, active0)
}

// A machine without a TPM gets the documented error (scripts/test-devices runs this in
// its second boot, which has no TPM device, with ENROLLSTATION_TEST_NO_TPM=1).
func TestNoTPMDevice(t *testing.T) {
	if os.Getenv("ENROLLSTATION_TEST_NO_TPM") != "1" {
		t.Fatal("ENROLLSTATION_TEST_NO_TPM=1 is not set: this test needs a machine without a TPM (run scripts/test-devices)")
	}
	if _, err := os.Stat("/dev/tpmrm0"); err == nil {
		t.Fatal("/dev/tpmrm0 exists")
	}
	for _, spec := range []string{"auto", "/dev/tpmrm0"} {
		_, err := OpenTPM(spec, t.TempDir())
		if !errors.Is(err, ErrNoTPM) || !strings.Contains(err.Error(), "no TPM found at /dev/tpmrm0; use --tpm swtpm for a software TPM (not for production)") {
			t.Errorf("OpenTPM(%q) without a TPM: %v, want ErrNoTPM", spec, err)
		}
	}
}
