// Package tpmconn opens connections to a TPM 2.0: the kernel's resource manager
// (/dev/tpmrm0), a software TPM spawned for the life of the process (swtpm), or a TPM
// simulator reachable over TCP. Every connection it returns retries the TPM's transient
// "try again" responses, so callers see only real failures.
package tpmconn

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/google/go-tpm/tpm2/transport"
	"github.com/google/go-tpm/tpm2/transport/linuxtpm"
	"github.com/google/go-tpm/tpm2/transport/tcp"

	"enrollstation/internal/swtpm"
)

// DefaultDevice is the kernel's TPM resource manager device.
const DefaultDevice = "/dev/tpmrm0"

// ErrNoTPM means no TPM was found where one was looked for.
var ErrNoTPM = errors.New("no TPM found at " + DefaultDevice + "; use --tpm swtpm for a software TPM (not for production)")

// Kind says whether a TPM is a chip or software.
type Kind string

const (
	Hardware Kind = "hardware"
	Software Kind = "software"
)

// Open connects to the TPM named by spec:
//   - "auto": /dev/tpmrm0 if present, else ErrNoTPM;
//   - a device path such as "/dev/tpmrm0";
//   - "swtpm": spawns swtpm with its state in dataDir/swtpm; it stops when the
//     connection is closed;
//   - "HOST:PORT": a TPM simulator speaking the TCP simulator protocol (swtpm, the
//     reference simulator) whose platform/control port is PORT+1.
//
// The returned connection retries TPM_RC_RETRY, TPM_RC_YIELDED and TPM_RC_TESTING.
func Open(spec, dataDir string) (transport.TPMCloser, Kind, error) {
	switch {
	case spec == "" || spec == "auto":
		if _, err := os.Stat(DefaultDevice); err != nil {
			return nil, "", ErrNoTPM
		}
		return openDevice(DefaultDevice)
	case spec == "swtpm":
		if dataDir == "" {
			return nil, "", errors.New("tpmconn: --tpm swtpm needs a data directory to keep the software TPM's state in")
		}
		c, err := SpawnSWTPM(filepath.Join(dataDir, "swtpm"))
		return c, Software, err
	case filepath.IsAbs(spec):
		return openDevice(spec)
	default:
		host, port, err := net.SplitHostPort(spec)
		if err != nil {
			return nil, "", fmt.Errorf("tpmconn: %q is not auto, a device path, swtpm or HOST:PORT", spec)
		}
		p, err := strconv.Atoi(port)
		if err != nil || p <= 0 || p >= 65535 {
			return nil, "", fmt.Errorf("tpmconn: bad port in %q", spec)
		}
		c, err := DialTCP(spec, net.JoinHostPort(host, strconv.Itoa(p+1)))
		return c, Software, err
	}
}

func openDevice(path string) (transport.TPMCloser, Kind, error) {
	t, err := linuxtpm.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, "", fmt.Errorf("tpmconn: %w", ErrNoTPM)
		}
		if errors.Is(err, os.ErrPermission) {
			return nil, "", fmt.Errorf("tpmconn: opening %s: %w (add the user to the tss group)", path, err)
		}
		return nil, "", fmt.Errorf("tpmconn: opening %s: %w", path, err)
	}
	return Retry(t), Hardware, nil
}

// DialTCP connects to a TCP TPM simulator's command and platform ports with go-tpm's
// transport/tcp. The simulator must already be powered on and started (swtpm does so
// with --flags not-need-init,startup-clear).
func DialTCP(cmdAddr, platformAddr string) (transport.TPMCloser, error) {
	t, err := tcp.Open(tcp.Config{CommandAddress: cmdAddr, PlatformAddress: platformAddr})
	if err != nil {
		return nil, fmt.Errorf("tpmconn: connecting to TPM at %s: %w", cmdAddr, err)
	}
	return Retry(t), nil
}

// SpawnSWTPM starts swtpm with its state in stateDir and connects to it. Closing the
// connection stops swtpm. A new state gets EK certificates from swtpm's local CA
// (swtpm.DefaultCADir, made by scripts/setup), so a software station can be attested.
func SpawnSWTPM(stateDir string) (transport.TPMCloser, error) {
	p, err := swtpm.Start(context.Background(), swtpm.Config{StateDir: stateDir, EKCA: swtpm.DefaultCADir})
	if err != nil {
		return nil, fmt.Errorf("tpmconn: %w", err)
	}
	c, err := DialTCP(p.ServerAddr, p.CtrlAddr)
	if err != nil {
		p.Stop()
		return nil, err
	}
	return &spawned{TPMCloser: c, proc: p}, nil
}

type spawned struct {
	transport.TPMCloser
	proc *swtpm.Process
}

func (s *spawned) Close() error {
	return errors.Join(s.TPMCloser.Close(), s.proc.Stop())
}

// Response codes after which the TPM asks to send the same command again
// (TPM 2.0 Part 2, 6.6.3).
const (
	rcRetry   = 0x922
	rcYielded = 0x908
	rcTesting = 0x90A
)

// MaxRetries bounds how often a command is re-sent after a transient response.
const MaxRetries = 20

// Retry wraps t so that commands answered with TPM_RC_RETRY, TPM_RC_YIELDED or
// TPM_RC_TESTING are re-sent, up to MaxRetries times with a growing pause. Closing the
// result closes t when t is a TPMCloser.
func Retry(t transport.TPM) transport.TPMCloser {
	if r, ok := t.(*retrying); ok {
		return r
	}
	return &retrying{t: t, sleep: time.Sleep}
}

type retrying struct {
	t     transport.TPM
	sleep func(time.Duration) // time.Sleep; tests replace it
}

func (r *retrying) Send(cmd []byte) ([]byte, error) {
	pause := time.Millisecond
	for i := 0; ; i++ {
		rsp, err := r.t.Send(cmd)
		if err != nil || i == MaxRetries || len(rsp) < 10 {
			return rsp, err
		}
		switch binary.BigEndian.Uint32(rsp[6:10]) {
		case rcRetry, rcYielded, rcTesting:
			r.sleep(pause)
			if pause < 100*time.Millisecond {
				pause *= 2
			}
		default:
			return rsp, nil
		}
	}
}

func (r *retrying) Close() error {
	if c, ok := r.t.(interface{ Close() error }); ok {
		return c.Close()
	}
	return nil
}
