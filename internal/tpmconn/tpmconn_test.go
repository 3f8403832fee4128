package tpmconn

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"enrollstation/internal/swtpm"
)

// fakeTPM answers with the queued response codes, then success.
type fakeTPM struct {
	codes []uint32
	sent  int
}

func (f *fakeTPM) Send(cmd []byte) ([]byte, error) {
	f.sent++
	rc := uint32(0)
	if len(f.codes) > 0 {
		rc, f.codes = f.codes[0], f.codes[1:]
	}
	rsp := make([]byte, 10)
	binary.BigEndian.PutUint16(rsp[0:2], 0x8001)
	binary.BigEndian.PutUint32(rsp[2:6], 10)
	binary.BigEndian.PutUint32(rsp[6:10], rc)
	return rsp, nil
}

func TestRetry(t *testing.T) {
	tests := []struct {
		name   string
		codes  []uint32
		sends  int
		wantRC uint32
	}{
		{"success", nil, 1, 0},
		{"retry then success", []uint32{rcRetry, rcYielded, rcTesting}, 4, 0},
		{"real error not retried", []uint32{0x98e}, 1, 0x98e},
		{"gives up", func() []uint32 {
			c := make([]uint32, MaxRetries+5)
			for i := range c {
				c[i] = rcRetry
			}
			return c
		}(), MaxRetries + 1, rcRetry},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTPM{codes: tt.codes}
			r := Retry(f).(*retrying)
			var slept time.Duration
			r.sleep = func(d time.Duration) { slept += d }
			rsp, err := r.Send([]byte{0x80, 1, 0, 0, 0, 10, 0, 0, 1, 0x7b})
			if err != nil {
				t.Fatal(err)
			}
			if f.sent != tt.sends {
				t.Errorf("sent %d times, want %d", f.sent, tt.sends)
			}
			if (tt.sends > 1) != (slept > 0) {
				t.Errorf("paused %v over %d sends", slept, f.sent)
			}
			if rc := binary.BigEndian.Uint32(rsp[6:10]); rc != tt.wantRC {
				t.Errorf("rc = %#x, want %#x", rc, tt.wantRC)
			}
		})
	}
}

func TestOpenSpecs(t *testing.T) {
	if _, err := os.Stat(DefaultDevice); err != nil {
		if _, _, err := Open("auto", t.TempDir()); !errors.Is(err, ErrNoTPM) {
			t.Errorf("auto without %s: %v, want ErrNoTPM", DefaultDevice, err)
		}
	}
	if _, _, err := Open("nonsense", ""); err == nil {
		t.Error("bad spec accepted")
	}
	if _, _, err := Open("swtpm", ""); err == nil {
		t.Error("swtpm without data dir accepted")
	}

	data := t.TempDir()
	c, kind, err := Open("swtpm", data)
	if err != nil {
		t.Fatal(err)
	}
	if kind != Software {
		t.Errorf("kind = %q", kind)
	}
	if _, err := (tpm2.GetRandom{BytesRequested: 8}).Execute(c); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(data, "swtpm", "tpm2-00.permall")); err != nil {
		t.Fatalf("swtpm state not under the data dir: %v", err)
	}

	// HOST:PORT reaches a simulator whose control port is PORT+1.
	p, err := swtpm.Start(t.Context(), swtpm.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	c, _, err = Open(p.ServerAddr, "")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := (tpm2.GetRandom{BytesRequested: 8}).Execute(c); err != nil {
		t.Fatal(err)
	}
}
