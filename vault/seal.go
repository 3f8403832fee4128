package vault

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"golang.org/x/crypto/chacha20poly1305"
)

// ErrIntegrity means a stored record (or a table file holding records) does not pass its
// integrity check: it was damaged or altered on disk. The record is never returned.
var ErrIntegrity = errors.New("vault: stored data fails its integrity check (damaged or altered on disk)")

// IntegrityError names what failed the check: a record key, or a store file when badger's
// own checksums caught it first. It matches ErrIntegrity with errors.Is.
type IntegrityError struct {
	Key  string // record key, e.g. "p/<enrollment ID>"; empty when File is set
	File string // store file, e.g. "000003.sst"
	Err  error  // the underlying failure, when there is one
}

func (e *IntegrityError) Error() string {
	what := "record " + e.Key
	if e.Key == "" {
		what = "store file " + e.File
	}
	s := fmt.Sprintf("vault: %s fails its integrity check (damaged or altered on disk)", what)
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *IntegrityError) Is(target error) bool { return target == ErrIntegrity }
func (e *IntegrityError) Unwrap() error        { return e.Err }

// Record sealing. badger encrypts with AES-CTR, which has no integrity: a flipped bit
// in a table file flips a bit of the stored value. So every value is sealed with
// XChaCha20-Poly1305 under a key derived (HKDF-SHA256) from the store key, with the
// record's key as associated data, so a value also cannot be moved to another key.
// Format: sealFormat (1 byte) || nonce (24) || ciphertext || tag (16).
const (
	sealFormat = 0x02
	sealInfo   = "enrollstation-record-seal-v2"
	sealAD     = "enrollstation-record-v2\x00"
)

func newRecordAEAD(storeKey []byte) (cipher.AEAD, error) {
	k, err := hkdf.Key(sha256.New, storeKey, nil, sealInfo, chacha20poly1305.KeySize)
	if err != nil {
		return nil, fmt.Errorf("vault: deriving the record key: %w", err)
	}
	return chacha20poly1305.NewX(k)
}

func recordAD(key string) []byte { return append([]byte(sealAD), key...) }

// seal returns the stored form of value under key (value itself with NoEncryption).
func (s *Store) seal(key string, value []byte) []byte {
	if s.aead == nil {
		return value
	}
	n := s.aead.NonceSize()
	out := make([]byte, 1+n, 1+n+len(value)+s.aead.Overhead())
	out[0] = sealFormat
	if _, err := rand.Read(out[1:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return s.aead.Seal(out, out[1:1+n], value, recordAD(key))
}

// open checks and decrypts the stored form b of key's value.
func (s *Store) open(key string, b []byte) ([]byte, error) {
	if s.aead == nil {
		return b, nil
	}
	n := s.aead.NonceSize()
	if len(b) < 1+n+s.aead.Overhead() || b[0] != sealFormat {
		return nil, &IntegrityError{Key: key, Err: fmt.Errorf("not a sealed record (%d bytes)", len(b))}
	}
	plain, err := s.aead.Open(nil, b[1:1+n], b[1+n:], recordAD(key))
	if err != nil {
		return nil, &IntegrityError{Key: key}
	}
	return plain, nil
}
