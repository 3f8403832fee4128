package vault

import (
	"crypto/rand"
	"encoding/json"
	"errors"
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
