// Package tpmtest gives tests a real software TPM: swtpm running on free loopback ports
// with its state in a temporary directory, reached through go-tpm's transport/tcp with
// transient responses retried. It is stopped when the test ends.
package tpmtest

import (
	"context"
	"sync"
	"testing"

	"github.com/google/go-tpm/tpm2/transport"

	"enrollstation/internal/swtpm"
	"enrollstation/internal/tpmconn"
)

// Sim is a running swtpm and one connection to it. Its methods are safe for concurrent
// use, but the TPM connection itself carries one command at a time.
type Sim struct {
	t        testing.TB
	stateDir string
	ekCA     string

	mu   sync.Mutex
	proc *swtpm.Process
	conn transport.TPMCloser
}

// Start runs swtpm with fresh state in t.TempDir() and stops it when the test ends.
func Start(t testing.TB) *Sim {
	t.Helper()
	return StartWithState(t, t.TempDir())
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
		c, err := tpmconn.DialTCP(s.proc.ServerAddr, s.proc.CtrlAddr)
		if err != nil {
			s.t.Fatalf("tpmtest: %v", err)
		}
		s.conn = c
	}
	return s.conn
}

// Addr is the simulator's command address as HOST:PORT, usable as a "--tpm" spec (the
// control port is PORT+1). swtpm serves one connection at a time: close the Sim's own
// connection (CloseConn) before another client connects.
func (s *Sim) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.proc.ServerAddr
}

// Dial opens an extra connection to the simulator, closed when the test ends. swtpm
// serves one connection at a time, so a new one waits until the others are closed.
func (s *Sim) Dial() transport.TPMCloser {
	s.t.Helper()
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
func (s *Sim) StateDir() string { return s.stateDir }

// Restart stops swtpm and starts it again on the same state, as a reboot would: NV
// contents and keys survive, PCRs and loaded objects do not.
func (s *Sim) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// Stop closes the connection and stops swtpm. It is safe to call more than once.
func (s *Sim) Stop() {
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
