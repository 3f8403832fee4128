package vault

import (
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"enrollstation/internal/tpmtest"
)

// benchEnrollment is a realistic ~120 KB record: a 110 KB portrait, a 512-byte
// template, demographics, a quality report and capture metadata.
func benchEnrollment(i int, portraitSize int) *Enrollment {
	p := make([]byte, portraitSize)
	rand.Read(p)
	t := make([]byte, 512)
	rand.Read(t)
	return &Enrollment{
		ID:           fmt.Sprintf("20260301T090000Z-%012d", i),
		Status:       StatusPending,
		Demographics: Demographics{GivenNames: "Given Names", Surname: fmt.Sprintf("Surname%d", i), DateOfBirth: "1980-01-01", Nationality: "UTO", Address: "1 Main Street, Town"},
		Portrait:     p,
		Template:     t,
		Quality:      json.RawMessage(`{"score":0.91,"sharpness":0.8,"exposure":0.5,"pose":{"yaw":1.2,"pitch":-0.5,"roll":0.3},"checks":{"eyes_open":true,"mouth_closed":true,"background":true}}`),
		Capture:      CaptureMeta{Camera: "/dev/video0", ProfileID: "cam-1", Width: 1280, Height: 720},
		CapturedBy:   "clara",
	}
}

// BenchmarkAckWrite measures acknowledged (fsynced) enrollment writes of ~120 KB.
func BenchmarkAckWrite(b *testing.B) {
	for _, c := range []struct {
		name string
		opts StoreOptions
	}{
		{"encrypted", StoreOptions{}},
		{"plain-badger", StoreOptions{NoEncryption: true}},
	} {
		b.Run(c.name, func(b *testing.B) {
			key := make([]byte, 32)
			rand.Read(key)
			s, err := CreateStore(b.TempDir(), key, c.opts)
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			recs := make([]*Enrollment, 64)
			for i := range recs {
				recs[i] = benchEnrollment(i, 110<<10)
			}
			b.SetBytes(120 << 10)
			b.ResetTimer()
			start := time.Now()
			n := 0
			for b.Loop() {
				e := recs[n%len(recs)]
				e.ID = fmt.Sprintf("20260301T090000Z-%012d", n)
				err := s.Update(func(tx *Tx) error {
					if err := tx.PutEnrollment(e); err != nil {
						return err
					}
					return tx.Audit("clara", "enrollment.save", e.ID, "pending")
				})
				if err != nil {
					b.Fatal(err)
				}
				n++
			}
			b.ReportMetric(float64(n)/time.Since(start).Seconds(), "writes/s")
		})
	}
}

var (
	openFixtureOnce sync.Once
	openFixtureDir  string
	openFixtureErr  error
	openFixtureKey  = make([]byte, 32)
)

const (
	openFixtureTotal = 100_000 // enrollments in the store
	openFixtureFull  = 2_000   // of which still hold a 110 KB portrait (the rest purged)
)

// openFixture builds, once per process, a store of 100,000 enrollments: the state of a
// busy station after a few years, where all but the last weeks' biometrics are purged.
func openFixture(b *testing.B) string {
	openFixtureOnce.Do(func() {
		rand.Read(openFixtureKey)
		openFixtureDir, openFixtureErr = os.MkdirTemp("", "vault-open-bench-")
		if openFixtureErr != nil {
			return
		}
		s, err := CreateStore(openFixtureDir, openFixtureKey, StoreOptions{NoSync: true})
		if err != nil {
			openFixtureErr = err
			return
		}
		small := benchEnrollment(0, 0)
		small.Portrait, small.Template = nil, nil
		full := benchEnrollment(0, 110<<10)
		for i := 0; i < openFixtureTotal && openFixtureErr == nil; i += 50 {
			openFixtureErr = s.Update(func(tx *Tx) error {
				for j := i; j < i+50; j++ {
					e := small
					if j >= openFixtureTotal-openFixtureFull {
						e = full
					}
					e.ID = fmt.Sprintf("20260301T090000Z-%012d", j)
					if err := tx.PutEnrollment(e); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if err := s.Close(); openFixtureErr == nil {
			openFixtureErr = err
		}
	})
	if openFixtureErr != nil {
		b.Fatal(openFixtureErr)
	}
	return openFixtureDir
}

// BenchmarkOpen100k measures opening the store of 100,000 enrollments until the
// pending list can be read.
func BenchmarkOpen100k(b *testing.B) {
	dir := openFixture(b)
	for b.Loop() {
		s, err := OpenStore(dir, openFixtureKey)
		if err != nil {
			b.Fatal(err)
		}
		var n int
		s.View(func(tx *Tx) error { n = len(tx.EnrollmentsByStatus(StatusPending)); return nil })
		if n != openFixtureTotal {
			b.Fatalf("%d pending, want %d", n, openFixtureTotal)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
}

func BenchmarkTPMSign(b *testing.B) {
	sim := tpmtest.Start(b)
	tp, err := NewTPM(sim.TPM(), "software")
	if err != nil {
		b.Fatal(err)
	}
	blob, err := tp.CreateSigningKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	s, _ := tp.Signer(blob, nil)
	d := sha256.Sum256([]byte("manifest"))
	for b.Loop() {
		if _, err := s.Sign(nil, d[:], crypto.SHA256); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTPMUnseal(b *testing.B) {
	sim := tpmtest.Start(b)
	tp, err := NewTPM(sim.TPM(), "software")
	if err != nil {
		b.Fatal(err)
	}
	blob, err := tp.Seal(make([]byte, 32), nil)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := tp.Unseal(blob); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if openFixtureDir != "" {
		os.RemoveAll(openFixtureDir)
	}
	os.Exit(code)
}
