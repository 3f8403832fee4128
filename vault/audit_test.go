package vault

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	badger "github.com/dgraph-io/badger/v4"
)

// auditStore makes a store with 6 audit entries and a signed checkpoint at entry 5.
func auditStore(t *testing.T) (*Store, *ecdsa.PrivateKey) {
	t.Helper()
	key := make([]byte, 32)
	rand.Read(key)
	s, err := CreateStore(t.TempDir(), key, StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	sk, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for i, a := range []string{"user.login", "enrollment.save", "enrollment.approve", "enrollment.save", "batch.export", "user.login"} {
		err := s.Update(func(tx *Tx) error {
			if err := tx.Audit("sam", a, "obj", ""); err != nil {
				return err
			}
			if i == 4 {
				_, err := tx.addCheckpoint(sk, 0)
				return err
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return s, sk
}

func rawEntry(t *testing.T, s *Store, seq uint64) AuditEntry {
	var e AuditEntry
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get([]byte(seqKey(pAudit, seq)))
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) error {
			plain, err := s.open(seqKey(pAudit, seq), b)
			if err != nil {
				return err
			}
			return json.Unmarshal(plain, &e)
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func rawPut(t *testing.T, s *Store, key string, v any) {
	b, _ := json.Marshal(v)
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Set([]byte(key), s.seal(key, b)) }); err != nil {
		t.Fatal(err)
	}
}

func rawDelete(t *testing.T, s *Store, key string) {
	if err := s.db.Update(func(txn *badger.Txn) error { return txn.Delete([]byte(key)) }); err != nil {
		t.Fatal(err)
	}
}

func TestAuditVerify(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(t *testing.T, s *Store)
		want   string // in the first problem; "" = verifies
	}{
		{"untouched", func(*testing.T, *Store) {}, ""},
		{"edit detail", func(t *testing.T, s *Store) {
			e := rawEntry(t, s, 3)
			e.Actor = "mallory"
			rawPut(t, s, seqKey(pAudit, 3), e)
		}, "edited"},
		{"delete middle", func(t *testing.T, s *Store) { rawDelete(t, s, seqKey(pAudit, 3)) }, "missing"},
		{"delete last", func(t *testing.T, s *Store) { rawDelete(t, s, seqKey(pAudit, 6)) }, "head"},
		{"swap two", func(t *testing.T, s *Store) {
			a, b := rawEntry(t, s, 2), rawEntry(t, s, 3)
			rawPut(t, s, seqKey(pAudit, 2), b)
			rawPut(t, s, seqKey(pAudit, 3), a)
		}, "swapped"},
		{"swap two and renumber", func(t *testing.T, s *Store) {
			a, b := rawEntry(t, s, 2), rawEntry(t, s, 3)
			a.Seq, b.Seq = 3, 2
			rawPut(t, s, seqKey(pAudit, 2), b)
			rawPut(t, s, seqKey(pAudit, 3), a)
		}, "chain"},
		{"rewrite whole chain", func(t *testing.T, s *Store) {
			// Someone with the store key edits entry 2 and recomputes every hash after it;
			// only the TPM-signed checkpoint gives it away.
			prev := rawEntry(t, s, 1).Hash
			for seq := uint64(2); seq <= 6; seq++ {
				e := rawEntry(t, s, seq)
				if seq == 2 {
					e.Action = "nothing.happened"
				}
				e.Prev = prev
				e.Hash = entryHash(&e)
				rawPut(t, s, seqKey(pAudit, seq), e)
				prev = e.Hash
			}
			rawPut(t, s, kAuditHead, auditHead{Seq: 6, Hash: prev})
		}, "checkpoint"},
		{"forged checkpoint", func(t *testing.T, s *Store) {
			other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err := s.Update(func(tx *Tx) error { _, err := tx.addCheckpoint(other, 0); return err }); err != nil {
				t.Fatal(err)
			}
		}, "signature"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, sk := auditStore(t)
			tt.tamper(t, s)
			rep, err := s.VerifyAudit(&sk.PublicKey)
			if tt.want == "" {
				if err != nil || rep.Entries != 6 || rep.LastSigned != 5 || rep.Checkpoints != 1 {
					t.Fatalf("untouched log: %+v, %v", rep, err)
				}
				return
			}
			if !errors.Is(err, ErrAuditTampered) {
				t.Fatalf("tampering not detected: %+v, %v", rep, err)
			}
			if !strings.Contains(err.Error(), tt.want) && !strings.Contains(strings.ToLower(rep.Problems[0].Problem), tt.want) {
				t.Errorf("problem %q does not mention %q", err, tt.want)
			}
		})
	}
}

func TestAuditRefusesNUL(t *testing.T) {
	s, _ := auditStore(t)
	err := s.Update(func(tx *Tx) error { return tx.Audit("a\x00b", "x", "", "") })
	if !errors.Is(err, ErrInvalid) {
		t.Fatalf("NUL in actor: %v", err)
	}
}
