package vault

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	badger "github.com/dgraph-io/badger/v4"
)

// AuditEntry is one line of the audit log. It names who did what to which object; it
// never holds biometric data or demographics (only record IDs and short reasons).
type AuditEntry struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Actor  string    `json:"actor"`            // operator name, or "station"
	Action string    `json:"action"`           // e.g. "enrollment.approve"
	Object string    `json:"object,omitempty"` // record ID
	Detail string    `json:"detail,omitempty"` // short, no personal data
	Prev   []byte    `json:"prev"`             // hash of the previous entry (32 zero bytes for the first)
	Hash   []byte    `json:"hash"`             // SHA-256 over Prev and this entry (see entryHash)
}

// AuditCheckpoint is the station key's signature over the hash of the entry at Seq, so
// rewriting the chain from before Seq is detectable even by someone holding the store key.
type AuditCheckpoint struct {
	V         int       `json:"v"`
	Seq       uint64    `json:"seq"`
	Hash      []byte    `json:"hash"`
	Time      time.Time `json:"time"`
	Signature []byte    `json:"signature"` // ECDSA P-256 ASN.1 over checkpointDigest
	// Anchor is the TPM anchor counter's value for this checkpoint (anchor.go).
	Anchor uint64 `json:"anchor"`
}

const (
	pAudit      = "a/"
	pCheckpoint = "k/"
	kAuditHead  = "m/audit-head"
	maxDetail   = 200
)

func seqKey(prefix string, seq uint64) string { return fmt.Sprintf("%s%020d", prefix, seq) }

// entryHash = SHA-256("enrollstation-audit-v1" 0 prev seq(decimal) 0 time(RFC3339Nano) 0
// actor 0 action 0 object 0 detail). Fields are NUL-separated; NUL is refused in them.
func entryHash(e *AuditEntry) []byte {
	h := sha256.New()
	h.Write([]byte("enrollstation-audit-v1\x00"))
	h.Write(e.Prev)
	for _, f := range []string{strconv.FormatUint(e.Seq, 10), e.Time.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Object, e.Detail} {
		h.Write([]byte{0})
		h.Write([]byte(f))
	}
	return h.Sum(nil)
}

// checkpointDigest = SHA-256("enrollstation-audit-checkpoint-v2" 0 seq 0 hex(hash) 0
// time(RFC3339Nano) 0 anchor), all decimal but the hash.
func checkpointDigest(cp *AuditCheckpoint) []byte {
	d := sha256.Sum256([]byte(fmt.Sprintf("enrollstation-audit-checkpoint-v2\x00%d\x00%x\x00%s\x00%d", cp.Seq, cp.Hash, cp.Time.UTC().Format(time.RFC3339Nano), cp.Anchor)))
	return d[:]
}

type auditHead struct {
	Seq  uint64 `json:"seq"`
	Hash []byte `json:"hash"`
}

func (tx *Tx) auditHead() (auditHead, error) {
	var h auditHead
	b, err := tx.getBytes(kAuditHead)
	if err != nil {
		return h, err
	}
	if b == nil {
		return auditHead{Hash: make([]byte, 32)}, nil
	}
	if err := json.Unmarshal(b, &h); err != nil {
		return h, fmt.Errorf("vault: audit head: %w", err)
	}
	return h, nil
}

// value opens and decodes an iterated item's sealed JSON value.
func (tx *Tx) value(item *badger.Item, v any) error {
	key := string(item.Key())
	return item.Value(func(b []byte) error {
		plain, err := tx.s.open(key, b)
		if err != nil {
			return err
		}
		return json.Unmarshal(plain, v)
	})
}

// Audit appends an entry to the audit log in this transaction, so the log and the
// change it records are committed together.
func (tx *Tx) Audit(actor, action, object, detail string) error {
	if len(detail) > maxDetail {
		detail = detail[:maxDetail]
	}
	for _, f := range []string{actor, action, object, detail} {
		if strings.ContainsRune(f, 0) {
			return fmt.Errorf("%w: NUL in audit entry", ErrInvalid)
		}
	}
	head, err := tx.auditHead()
	if err != nil {
		return err
	}
	e := AuditEntry{Seq: head.Seq + 1, Time: time.Now().UTC(), Actor: actor, Action: action, Object: object, Detail: detail, Prev: head.Hash}
	e.Hash = entryHash(&e)
	if err := tx.putJSON(seqKey(pAudit, e.Seq), &e); err != nil {
		return err
	}
	hb, _ := json.Marshal(auditHead{Seq: e.Seq, Hash: e.Hash})
	return tx.set(kAuditHead, hb)
}

// AuditEntries returns the entries with from ≤ seq ≤ to (to = 0: up to the end).
func (tx *Tx) AuditEntries(from, to uint64) ([]AuditEntry, error) {
	opts := badger.DefaultIteratorOptions
	opts.Prefix = []byte(pAudit)
	it := tx.txn.NewIterator(opts)
	defer it.Close()
	var out []AuditEntry
	for it.Seek([]byte(seqKey(pAudit, from))); it.Valid(); it.Next() {
		var e AuditEntry
		if err := tx.value(it.Item(), &e); err != nil {
			return nil, fmt.Errorf("vault: audit entry %s: %w", it.Item().Key(), err)
		}
		if to != 0 && e.Seq > to {
			break
		}
		out = append(out, e)
	}
	return out, nil
}

// addCheckpoint records a signed checkpoint of the current head with the given anchor
// value (Station code goes through anchoredCheckpoint, which picks it).
func (tx *Tx) addCheckpoint(signer crypto.Signer, anchor uint64) (*AuditCheckpoint, error) {
	head, err := tx.auditHead()
	if err != nil {
		return nil, err
	}
	if head.Seq == 0 {
		return nil, nil
	}
	cp := AuditCheckpoint{V: recordVersion, Seq: head.Seq, Hash: head.Hash, Time: time.Now().UTC(), Anchor: anchor}
	cp.Signature, err = signer.Sign(nil, checkpointDigest(&cp), crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("vault: signing audit checkpoint: %w", err)
	}
	return &cp, tx.putJSON(seqKey(pCheckpoint, cp.Seq), &cp)
}

// ErrAuditTampered means the audit log does not verify.
var ErrAuditTampered = errors.New("vault: the audit log has been tampered with")

// AuditProblem is one finding of VerifyAudit: its Kind and data, for a screen to word
// in its language, and Problem, the same in English (for the command line).
type AuditProblem struct {
	Seq     uint64           `json:"seq"`
	Problem string           `json:"problem"`
	Kind    AuditProblemKind `json:"kind"`
	Key     string           `json:"key,omitempty"`  // the store key of an unreadable or moved record
	From    uint64           `json:"from,omitempty"` // a range of missing entries or anchors, or the log's last entry
	To      uint64           `json:"to,omitempty"`   // the end of the range, or the entry found (EntriesMissing) or the head's (HeadMismatch)
	Err     string           `json:"error,omitempty"`
}

// AuditProblemKind names what VerifyAudit found wrong; the values are stable.
type AuditProblemKind string

const (
	AuditEntryUnreadable      AuditProblemKind = "entry-unreadable"      // Key, Err
	AuditEntryMoved           AuditProblemKind = "entry-moved"           // Key
	AuditEntriesMissing       AuditProblemKind = "entries-missing"       // From..To-1 missing, To found
	AuditChainBroken          AuditProblemKind = "chain-broken"          //
	AuditEntryEdited          AuditProblemKind = "entry-edited"          //
	AuditHeadMismatch         AuditProblemKind = "head-mismatch"         // the log ends at From, the head records To
	AuditCheckpointUnreadable AuditProblemKind = "checkpoint-unreadable" // Key, Err
	AuditCheckpointForged     AuditProblemKind = "checkpoint-forged"     //
	AuditCheckpointMismatch   AuditProblemKind = "checkpoint-mismatch"   //
	AuditAnchorsMissing       AuditProblemKind = "anchors-missing"       // anchors From..To
	AuditAnchorRollback       AuditProblemKind = "anchor-rollback"       // Err
)

// AuditReport is the result of VerifyAudit.
type AuditReport struct {
	Entries     uint64 `json:"entries"`
	Checkpoints int    `json:"checkpoints"`
	LastSigned  uint64 `json:"last_signed"` // highest entry covered by a valid checkpoint
	// Anchored is the entry of the checkpoint the TPM's anchor counter (value Anchor)
	// vouches for (Station.VerifyAudit only).
	Anchored uint64         `json:"anchored,omitempty"`
	Anchor   uint64         `json:"anchor,omitempty"`
	Problems []AuditProblem `json:"problems,omitempty"`
}

// OK reports whether the log verified.
func (r *AuditReport) OK() bool { return len(r.Problems) == 0 }

// VerifyAudit checks the whole audit log: entries numbered 1..n without gaps, each
// hash recomputed and chained to the previous one, the head pointing at the last entry,
// and every checkpoint signed by pub and matching the entry it covers. It returns the
// report, and ErrAuditTampered (wrapped) if anything is wrong.
func (s *Store) VerifyAudit(pub *ecdsa.PublicKey) (*AuditReport, error) {
	rep := &AuditReport{}
	hashes := map[uint64][]byte{}
	err := s.View(func(tx *Tx) error {
		head, err := tx.auditHead()
		if err != nil {
			return err
		}
		opts := badger.DefaultIteratorOptions
		opts.Prefix = []byte(pAudit)
		it := tx.txn.NewIterator(opts)
		defer it.Close()
		prev := make([]byte, 32)
		var want uint64 = 1
		for it.Rewind(); it.Valid(); it.Next() {
			key := string(it.Item().Key())
			var e AuditEntry
			if err := tx.value(it.Item(), &e); err != nil {
				rep.Problems = append(rep.Problems, AuditProblem{Seq: want, Kind: AuditEntryUnreadable, Key: key, Err: err.Error(), Problem: fmt.Sprintf("entry %s unreadable: %v", key, err)})
				continue
			}
			rep.Entries++
			if key != seqKey(pAudit, e.Seq) {
				rep.Problems = append(rep.Problems, AuditProblem{Seq: e.Seq, Kind: AuditEntryMoved, Key: key, Problem: fmt.Sprintf("entry stored under %s claims sequence %d (moved or swapped)", key, e.Seq)})
			}
			if e.Seq != want {
				rep.Problems = append(rep.Problems, AuditProblem{Seq: want, Kind: AuditEntriesMissing, From: want, To: e.Seq, Problem: fmt.Sprintf("entries %d..%d missing or out of order (found %d)", want, e.Seq-1, e.Seq)})
			}
			if !bytes.Equal(e.Prev, prev) {
				rep.Problems = append(rep.Problems, AuditProblem{Seq: e.Seq, Kind: AuditChainBroken, Problem: "does not chain to the previous entry (an entry before it was removed, edited or reordered)"})
			}
			if !bytes.Equal(entryHash(&e), e.Hash) {
				rep.Problems = append(rep.Problems, AuditProblem{Seq: e.Seq, Kind: AuditEntryEdited, Problem: "content does not match its hash (edited)"})
			}
			hashes[e.Seq] = e.Hash
			prev = e.Hash
			want = e.Seq + 1
		}
		if head.Seq != want-1 || (head.Seq > 0 && !bytes.Equal(head.Hash, prev)) {
			rep.Problems = append(rep.Problems, AuditProblem{Seq: head.Seq, Kind: AuditHeadMismatch, From: want - 1, To: head.Seq, Problem: fmt.Sprintf("log ends at entry %d but the head records entry %d (entries removed or added at the end)", want-1, head.Seq)})
		}

		copts := badger.DefaultIteratorOptions
		copts.Prefix = []byte(pCheckpoint)
		cit := tx.txn.NewIterator(copts)
		defer cit.Close()
		var lastAnchor uint64 // TPM-anchored checkpoints carry consecutive anchor values
		for cit.Rewind(); cit.Valid(); cit.Next() {
			var cp AuditCheckpoint
			if err := tx.value(cit.Item(), &cp); err != nil {
				rep.Problems = append(rep.Problems, AuditProblem{Kind: AuditCheckpointUnreadable, Key: string(cit.Item().Key()), Err: err.Error(), Problem: fmt.Sprintf("checkpoint %s unreadable: %v", cit.Item().Key(), err)})
				continue
			}
			rep.Checkpoints++
			if !ecdsa.VerifyASN1(pub, checkpointDigest(&cp), cp.Signature) {
				rep.Problems = append(rep.Problems, AuditProblem{Seq: cp.Seq, Kind: AuditCheckpointForged, Problem: "checkpoint signature is not the station's"})
				continue
			}
			if h, ok := hashes[cp.Seq]; !ok || !bytes.Equal(h, cp.Hash) {
				rep.Problems = append(rep.Problems, AuditProblem{Seq: cp.Seq, Kind: AuditCheckpointMismatch, Problem: "signed checkpoint does not match the entry it covers (log rewritten)"})
				continue
			}
			if cp.Seq > rep.LastSigned {
				rep.LastSigned = cp.Seq
			}
			if cp.Anchor != 0 {
				if lastAnchor != 0 && cp.Anchor != lastAnchor+1 {
					rep.Problems = append(rep.Problems, AuditProblem{Seq: cp.Seq, Kind: AuditAnchorsMissing, From: lastAnchor + 1, To: cp.Anchor - 1, Problem: fmt.Sprintf("signed checkpoints with TPM anchors %d..%d are missing (removed)", lastAnchor+1, cp.Anchor-1)})
				}
				lastAnchor = cp.Anchor
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !rep.OK() {
		return rep, fmt.Errorf("%w: %d problem(s), first at entry %d: %s", ErrAuditTampered, len(rep.Problems), rep.Problems[0].Seq, rep.Problems[0].Problem)
	}
	return rep, nil
}
