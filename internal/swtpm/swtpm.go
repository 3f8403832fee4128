// Package swtpm runs a software TPM 2.0 (Debian's swtpm) as a child process listening on
// free loopback ports. Tests use it through internal/tpmtest; the app uses it for
// "--tpm swtpm", which keeps the TPM state under the station's data directory.
//
// A software TPM protects nothing against someone who can read its state directory:
// it exists for tests, demos and development, never for production stations.
package swtpm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// ErrInUse means another swtpm (of this or another process) uses the state directory.
var ErrInUse = errors.New("swtpm: the TPM state directory is in use by another process")

// ErrNotInstalled means the swtpm binary could not be found.
var ErrNotInstalled = errors.New("swtpm: the swtpm program is not installed (apt-get install swtpm swtpm-tools)")

// Config says how to run swtpm.
type Config struct {
	StateDir     string        // TPM state directory; created if missing
	Binary       string        // path of the swtpm program; "swtpm" (from PATH) if empty
	StartTimeout time.Duration // how long to wait for swtpm to accept connections; 10s if zero
	// EKCA, when set, is the directory of swtpm's local CA: a state directory without a
	// TPM state is first manufactured with EK certificates signed by it (Manufacture).
	EKCA string
}

// Process is a running swtpm. Its methods are safe for concurrent use.
type Process struct {
	// ServerAddr is the TPM command channel (host:port); CtrlAddr is swtpm's control
	// channel, always on the next port.
	ServerAddr, CtrlAddr string

	cmd    *exec.Cmd
	done   chan struct{} // closed when the process has exited
	waitEr error
	stderr *limitedBuffer

	lock *os.File // flock on the state directory, released once swtpm has exited

	stopOnce sync.Once
	stopErr  error
}

// Start launches swtpm on two free loopback ports with state in cfg.StateDir and
// returns once it accepts connections. The TPM is started (TPM2_Startup(CLEAR)) by swtpm
// itself, so clients can send commands right away.
func Start(ctx context.Context, cfg Config) (*Process, error) {
	bin := cfg.Binary
	if bin == "" {
		bin = "swtpm"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, ErrNotInstalled
	}
	if cfg.StateDir == "" {
		return nil, errors.New("swtpm: no state directory given")
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("swtpm: creating state directory: %w", err)
	}
	// swtpm locks its state only on the first TPM command, so a second instance would
	// start and then fail obscurely; our own lock makes that a clear error up front.
	lock, err := os.OpenFile(filepath.Join(cfg.StateDir, ".enrollstation.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("swtpm: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, fmt.Errorf("%w (%s)", ErrInUse, cfg.StateDir)
	}
	if cfg.EKCA != "" {
		if err := Manufacture(ctx, cfg.StateDir, cfg.EKCA); err != nil {
			lock.Close()
			return nil, err
		}
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	// Free ports are found by binding :0 and releasing them, so another process may grab
	// one before swtpm binds it; a few attempts make that race harmless.
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		p, err := startOnce(ctx, path, cfg.StateDir, timeout)
		if err == nil {
			p.lock = lock
			return p, nil
		}
		lastErr = err
		if !errors.Is(err, errExitedEarly) {
			break
		}
	}
	lock.Close()
	return nil, lastErr
}

var errExitedEarly = errors.New("swtpm exited during start-up")

func startOnce(ctx context.Context, bin, stateDir string, timeout time.Duration) (*Process, error) {
	port, err := freePortPair()
	if err != nil {
		return nil, fmt.Errorf("swtpm: finding free ports: %w", err)
	}
	p := &Process{
		ServerAddr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)),
		CtrlAddr:   net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)),
		done:       make(chan struct{}),
		stderr:     &limitedBuffer{max: 8 << 10},
	}
	p.cmd = exec.Command(bin, "socket", "--tpm2",
		"--tpmstate", "dir="+stateDir+",mode=0600",
		"--server", "type=tcp,port="+strconv.Itoa(port)+",bindaddr=127.0.0.1",
		"--ctrl", "type=tcp,port="+strconv.Itoa(port+1)+",bindaddr=127.0.0.1",
		"--flags", "not-need-init,startup-clear",
	)
	// Without --log, swtpm reports errors on stderr ("--log fd=2" makes it exit).
	p.cmd.Stdout = p.stderr
	p.cmd.Stderr = p.stderr
	// If we die without stopping it, the kernel stops swtpm, which would otherwise keep
	// the state directory locked.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("swtpm: starting %s: %w", bin, err)
	}
	go func() {
		p.waitEr = p.cmd.Wait()
		close(p.done)
	}()

	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if reachable(p.ServerAddr) && reachable(p.CtrlAddr) {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("swtpm: %w (%v): %s", errExitedEarly, p.waitEr, bytes.TrimSpace(p.stderr.Bytes()))
		case <-ctx.Done():
			p.Stop()
			return nil, fmt.Errorf("swtpm: waiting for start-up: %w", ctx.Err())
		case <-deadline.C:
			p.Stop()
			return nil, fmt.Errorf("swtpm: not accepting connections on %s after %v: %s", p.ServerAddr, timeout, bytes.TrimSpace(p.stderr.Bytes()))
		case <-tick.C:
		}
	}
}

// reachable reports whether something accepts TCP connections at addr. swtpm serves
// one client at a time and simply waits for the next one when a probe hangs up.
func reachable(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// freePortPair finds a free loopback port p whose successor p+1 is free too, so the
// control port is always the command port + 1, the convention of TCP TPM simulators
// (and of "--tpm HOST:PORT").
func freePortPair() (int, error) {
	for i := 0; i < 50; i++ {
		l1, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l1.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		l1.Close()
		if err == nil {
			l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("no two consecutive free loopback ports")
}

// Stop terminates swtpm and waits for it to exit (SIGTERM, then SIGKILL after 5s).
// Calling it again returns the first result.
func (p *Process) Stop() error {
	p.stopOnce.Do(func() {
		defer func() {
			if p.lock != nil {
				p.lock.Close()
			}
		}()
		select {
		case <-p.done:
			return
		default:
		}
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		t := time.NewTimer(5 * time.Second)
		defer t.Stop()
		select {
		case <-p.done:
		case <-t.C:
			_ = p.cmd.Process.Kill()
			<-p.done
			p.stopErr = errors.New("swtpm: did not stop on SIGTERM; killed")
		}
	})
	return p.stopErr
}

// Exited is closed when the swtpm process has exited.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Log returns the start of what swtpm printed, for error reports.
func (p *Process) Log() string { return string(p.stderr.Bytes()) }

// limitedBuffer keeps the first max bytes written to it.
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]byte(nil), b.buf.Bytes()...)
}
