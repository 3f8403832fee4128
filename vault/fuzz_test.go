package vault

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzDecodeRecord: records read back from disk never panic the decoder, and records
// claiming a newer version are refused rather than misread.
func FuzzDecodeRecord(f *testing.F) {
	e := testEnrollmentF()
	b, _ := json.Marshal(e)
	f.Add(b)
	f.Add([]byte(`{"v":2,"id":"x"}`))
	f.Add([]byte(`{"v":1,"status":7}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		var got Enrollment
		err := decodeRecord("e/x", data, &got)
		var head struct{ V int }
		if json.Unmarshal(data, &head) == nil && head.V > recordVersion && !errors.Is(err, ErrNewerRecord) {
			t.Fatalf("version %d accepted: %v", head.V, err)
		}
	})
}

func testEnrollmentF() *Enrollment {
	return &Enrollment{V: 1, ID: "20260301T090000Z-0123456789ab", Status: StatusPending, Demographics: Demographics{Surname: "Doe"}}
}

// FuzzKeyBlob: a damaged key blob in station.json gives an error, never a panic.
func FuzzKeyBlob(f *testing.F) {
	f.Add([]byte{0, 0})
	f.Add([]byte{0, 4, 0, 0x23, 0, 0x0b})
	f.Fuzz(func(t *testing.T, pub []byte) {
		tp := &TPM{}
		s, err := tp.Signer(&KeyBlob{Public: pub}, nil)
		if err == nil && s.PublicKey() == nil {
			t.Fatal("no error and no key")
		}
	})
}

func TestOpenStoreWrongKey(t *testing.T) {
	dir := t.TempDir()
	k1, k2 := make([]byte, 32), make([]byte, 32)
	rand.Read(k1)
	rand.Read(k2)
	s, err := CreateStore(dir, k1, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if _, err := OpenStore(dir, k2); !errors.Is(err, ErrWrongStoreKey) {
		t.Fatalf("wrong key: %v, want ErrWrongStoreKey", err)
	}
	if _, err := OpenStore(dir, k1[:16]); err == nil {
		t.Fatal("16-byte key accepted")
	}
	if s, err := OpenStore(dir, k1); err != nil {
		t.Fatalf("right key after a wrong one: %v", err)
	} else {
		s.Close()
	}
}

// checkTable reads lengths from a file on disk before badger does: any bytes must give
// an answer, never a panic.
func FuzzCheckTable(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0, 0, 0, 0})
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{8, 1, 16, 5, 0, 0, 0, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(t.TempDir(), "000001.sst")
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		_ = checkTable(p) // the answer is either nil or an error
	})
}

// A sealed value opens only unchanged and under its own key.
func FuzzOpenSealed(f *testing.F) {
	s := &Store{}
	var err error
	if s.aead, err = newRecordAEAD(make([]byte, 32)); err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("value"), uint16(0), byte(1))
	f.Fuzz(func(t *testing.T, v []byte, at uint16, flip byte) {
		b := s.seal("e/x", v)
		if got, err := s.open("e/x", b); err != nil || !bytes.Equal(got, v) {
			t.Fatalf("round trip: %v", err)
		}
		if _, err := s.open("e/y", b); !errors.Is(err, ErrIntegrity) {
			t.Fatalf("opened under another key: %v", err)
		}
		if flip != 0 {
			b[int(at)%len(b)] ^= flip
			if _, err := s.open("e/x", b); !errors.Is(err, ErrIntegrity) {
				t.Fatalf("altered value opened: %v", err)
			}
		}
		_, _ = s.open("e/x", v) // raw bytes: an error, never a panic
	})
}
