// Package tpmtest gives tests a real software TPM: swtpm running on free loopback ports
// with its state in a temporary directory, reached through go-tpm's transport/tcp with
// transient responses retried. It is stopped when the test ends.
//
// With $ENROLLSTATION_TEST_TPM set to a device (scripts/test-devices sets /dev/tpmrm0 in
// its QEMU guest, where the kernel drives a TPM CRB device), the same tests run against
// that device through the kernel's resource manager instead.
package tpmtest

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"

	"enrollstation/internal/swtpm"
	"enrollstation/internal/tpmconn"
)

// Sim is a running swtpm and one connection to it. Its methods are safe for concurrent
// use, but the TPM connection itself carries one command at a time.
type Sim struct {
	t        testing.TB
	stateDir string
	device   string // a TPM device path instead of swtpm (see EnvDevice)
	ekCA     string

	mu   sync.Mutex
	proc *swtpm.Process
	conn transport.TPMCloser
}

// EnvDevice names the environment variable that points the tests at a TPM device.
const EnvDevice = "ENROLLSTATION_TEST_TPM"

// Start runs swtpm with fresh state in t.TempDir() and stops it when the test ends.
// When $ENROLLSTATION_TEST_TPM names a device, Start uses that device instead (see
// Device).
func Start(t testing.TB) *Sim {
	t.Helper()
	if dev := os.Getenv(EnvDevice); dev != "" {
		return openDevice(t, dev)
	}
	return StartWithState(t, t.TempDir())
}

// Device uses the TPM device named by $ENROLLSTATION_TEST_TPM (e.g. /dev/tpmrm0) and
// fails the test when it is not set: tests of the device path must not pass without one.
// The device keeps its state between tests, so each test starts with the
// dictionary-attack lockout cleared (the lockout hierarchy's authorization is empty on
// a fresh TPM); Restart and StateDir fail the test.
func Device(t testing.TB) *Sim {
	t.Helper()
	dev := os.Getenv(EnvDevice)
	if dev == "" {
		t.Fatalf("tpmtest: $%s is not set: this test needs a TPM device (scripts/test-devices runs it in a QEMU guest with /dev/tpmrm0)", EnvDevice)
	}
	return openDevice(t, dev)
}

func openDevice(t testing.TB, dev string) *Sim {
	t.Helper()
	s := &Sim{t: t, device: dev}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// ResetLockout ends the TPM's dictionary-attack lockout: TPM2_DictionaryAttackLockReset
// with the empty lockout authorization of a fresh TPM. go-tpm's tpm2 package has no
// such command, so it is sent as bytes (TPM 2.0 Part 3, 25.2).
func (s *Sim) ResetLockout() error {
	cmd := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMSTSessions))
	cmd = binary.BigEndian.AppendUint32(cmd, 27) // commandSize
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMCCDictionaryAttackLockReset))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRHLockout))
	cmd = binary.BigEndian.AppendUint32(cmd, 9) // authorizationSize: one password session
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRSPW))
	cmd = append(cmd, 0, 0, 0, 0, 0) // empty nonce, no attributes, empty password
	rsp, err := s.TPM().Send(cmd)
	if err != nil {
		return fmt.Errorf("TPM2_DictionaryAttackLockReset: %w", err)
	}
	if len(rsp) < 10 {
		return fmt.Errorf("TPM2_DictionaryAttackLockReset: short response %x", rsp)
	}
	if rc := tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])); rc != tpm2.TPMRCSuccess {
		return fmt.Errorf("TPM2_DictionaryAttackLockReset: %w", rc)
	}
	return nil
}

// StartWithState runs swtpm on an existing state directory (e.g. one a previous Sim
// used), so tests can model "the same TPM" or "a different TPM".
func StartWithState(t testing.TB, stateDir string) *Sim {
	t.Helper()
	s := &Sim{t: t, stateDir: stateDir}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

// StartWithEK runs swtpm on fresh state manufactured with EK certificates from the
// swtpm local CA in caDir (created there if missing; swtpm.DefaultCADir is setup's).
func StartWithEK(t testing.TB, caDir string) *Sim {
	t.Helper()
	s := &Sim{t: t, stateDir: t.TempDir(), ekCA: caDir}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Sim) start() {
	s.t.Helper()
	if s.device != "" {
		c := s.dialDevice()
		s.mu.Lock()
		s.conn = c
		s.mu.Unlock()
		if err := s.ResetLockout(); err != nil {
			s.t.Fatalf("tpmtest: clearing the lockout of %s: %v", s.device, err)
		}
		return
	}
	p, err := swtpm.Start(context.Background(), swtpm.Config{StateDir: s.stateDir, EKCA: s.ekCA})
	if err != nil {
		s.t.Fatalf("tpmtest: %v", err)
	}
	c, err := tpmconn.DialTCP(p.ServerAddr, p.CtrlAddr)
	if err != nil {
		p.Stop()
		s.t.Fatalf("tpmtest: %v", err)
	}
	s.mu.Lock()
	s.proc, s.conn = p, c
	s.mu.Unlock()
}

// TPM returns the connection to the simulator. After Restart, call TPM again: the old
// connection is closed.
func (s *Sim) TPM() transport.TPM {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		if s.device != "" {
			s.conn = s.dialDevice()
			return s.conn
		}
		c, err := tpmconn.DialTCP(s.proc.ServerAddr, s.proc.CtrlAddr)
		if err != nil {
			s.t.Fatalf("tpmtest: %v", err)
		}
		s.conn = c
	}
	return s.conn
}

// dialDevice opens the device; each open of /dev/tpmrm0 is its own resource-manager
// space, whose objects and sessions the kernel flushes when it is closed.
func (s *Sim) dialDevice() transport.TPMCloser {
	s.t.Helper()
	c, _, err := tpmconn.Open(s.device, "")
	if err != nil {
		s.t.Fatalf("tpmtest: %v", err)
	}
	return c
}

// Addr is the simulator's command address as HOST:PORT, usable as a "--tpm" spec (the
// control port is PORT+1); for a device, its path. swtpm serves one connection at a
// time: close the Sim's own connection (CloseConn) before another client connects.
func (s *Sim) Addr() string {
	if s.device != "" {
		return s.device
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.ServerAddr
}

// Dial opens an extra connection to the simulator, closed when the test ends. swtpm
// serves one connection at a time, so a new one waits until the others are closed.
func (s *Sim) Dial() transport.TPMCloser {
	s.t.Helper()
	if s.device != "" {
		c := s.dialDevice()
		s.t.Cleanup(func() { c.Close() })
		return c
	}
	s.mu.Lock()
	p := s.proc
	s.mu.Unlock()
	c, err := tpmconn.DialTCP(p.ServerAddr, p.CtrlAddr)
	if err != nil {
		s.t.Fatalf("tpmtest: %v", err)
	}
	s.t.Cleanup(func() { c.Close() })
	return c
}

// CloseConn closes the Sim's own connection so that another client (e.g. a command
// given --tpm Addr()) can connect; TPM reconnects on demand.
func (s *Sim) CloseConn() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
}

// StateDir is the directory holding the simulator's state.
func (s *Sim) StateDir() string {
	if s.device != "" {
		s.t.Fatalf("tpmtest: %s is a TPM device: it has no state directory (this test needs swtpm)", s.device)
	}
	return s.stateDir
}

// Restart stops swtpm and starts it again on the same state, as a reboot would: NV
// contents and keys survive, PCRs and loaded objects do not.
func (s *Sim) Restart() {
	s.t.Helper()
	if s.device != "" {
		s.t.Fatalf("tpmtest: %s is a TPM device: it cannot be restarted (this test needs swtpm)", s.device)
	}
	s.Stop()
	s.start()
}

// Stop closes the connection and stops swtpm. It is safe to call more than once.
func (s *Sim) Stop() {
	s.mu.Lock()
	open := s.conn != nil
	s.mu.Unlock()
	if s.device != "" && open {
		// The next test on the same device starts without this one's lockout.
		if err := s.ResetLockout(); err != nil {
			s.t.Errorf("tpmtest: clearing the lockout of %s: %v", s.device, err)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	if s.proc != nil {
		if err := s.proc.Stop(); err != nil {
			s.t.Errorf("tpmtest: %v", err)
		}
		s.proc = nil
	}
}
