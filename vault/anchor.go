package vault

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
)

// TPM anchoring of the audit log. Every signed checkpoint carries the next value of a
// TPM NV counter (the anchor counter, separate from the bundle counter), and the store
// keeps, under kAnchor, the latest checkpoint and its anchor value. The order of the two
// writes makes a crash between them harmless:
//
//  1. one store transaction writes the checkpoint (anchor a+1) and kAnchor = {a+1, seq};
//  2. then the TPM counter is incremented from a to a+1.
//
// A crash between 1 and 2 leaves the store one step ahead of the TPM; the next open
// finishes step 2. So on open the store's anchor must equal the TPM's counter or be one
// above it. Below it means the store is older than the TPM says (a restored snapshot, an
// emptied store, removed checkpoints): refused with ErrRollback. The counter only grows,
// whoever controls the disk.

// ErrRollback means the store is older than the station's TPM anchor says.
var ErrRollback = errors.New("the store is older than this station's TPM says: restored from a backup? (the station refuses to run on it; restore the newest copy of the data directory or ask the issuer)")

// ErrAnchorAhead means the store claims more anchored checkpoints than the TPM counted:
// it was written with another TPM's counter, or the TPM was replaced.
var ErrAnchorAhead = errors.New("the store is ahead of this station's TPM anchor (the store belongs to another TPM, or the TPM was replaced)")

// DefaultAnchorIndex is the NV index of the audit anchor counter, in the owner range.
const DefaultAnchorIndex = 0x01455302

const kAnchor = "m/anchor"

type anchorRecord struct {
	V      int    `json:"v"`
	Anchor uint64 `json:"anchor"` // the anchor counter's value once this checkpoint is anchored
	Seq    uint64 `json:"seq"`    // the checkpoint's audit entry (0: none yet, at provisioning)
}

// anchorState reads the store's anchor; ok is false when there is none.
func (tx *Tx) anchorState() (a anchorRecord, ok bool, err error) {
	err = tx.getJSON(kAnchor, &a)
	if errors.Is(err, ErrNotFound) {
		return a, false, nil
	}
	return a, err == nil, err
}

// checkAnchoredCheckpoint checks that the checkpoint a names is present, signed by pub,
// carries a's anchor value and matches the audit entry it covers.
func (tx *Tx) checkAnchoredCheckpoint(a anchorRecord, pub *ecdsa.PublicKey) error {
	if a.Seq == 0 {
		return nil
	}
	var cp AuditCheckpoint
	if err := tx.getJSON(seqKey(pCheckpoint, a.Seq), &cp); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w (the TPM-anchored checkpoint at audit entry %d has been removed)", ErrRollback, a.Seq)
		}
		return err
	}
	if cp.Seq != a.Seq || cp.Anchor != a.Anchor || !ecdsa.VerifyASN1(pub, checkpointDigest(&cp), cp.Signature) {
		return fmt.Errorf("%w: the TPM-anchored checkpoint at entry %d is not the station's", ErrAuditTampered, a.Seq)
	}
	var e AuditEntry
	if err := tx.getJSON(seqKey(pAudit, a.Seq), &e); err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("%w (audit entry %d, anchored in the TPM, is missing)", ErrRollback, a.Seq)
		}
		return err
	}
	if !bytes.Equal(e.Hash, cp.Hash) || !bytes.Equal(entryHash(&e), e.Hash) {
		return fmt.Errorf("%w: audit entry %d does not match its TPM-anchored checkpoint (log rewritten)", ErrAuditTampered, a.Seq)
	}
	return nil
}

// checkAnchor compares the store with the TPM's anchor counter (see the top of this
// file) and finishes an anchoring a crash interrupted.
func (st *Station) checkAnchor() error {
	st.anchorMu.Lock()
	defer st.anchorMu.Unlock()
	var a anchorRecord
	var ok bool
	err := st.store.View(func(tx *Tx) (err error) {
		if a, ok, err = tx.anchorState(); err != nil || !ok {
			return err
		}
		return tx.checkAnchoredCheckpoint(a, st.signer.PublicKey())
	})
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("%w (the store has no TPM anchor: it was emptied or replaced)", ErrRollback)
	}
	return st.advanceAnchor(a.Anchor)
}

// advanceAnchor brings the TPM counter to want, which may be at most one above it.
func (st *Station) advanceAnchor(want uint64) error {
	t, err := st.anchor.Read()
	if err != nil {
		return err
	}
	switch {
	case t == want:
		return nil
	case t > want:
		return fmt.Errorf("%w (the store is at anchor %d, the TPM at %d)", ErrRollback, want, t)
	case t+1 < want:
		return fmt.Errorf("%w (the store is at anchor %d, the TPM at %d)", ErrAnchorAhead, want, t)
	}
	got, err := st.anchor.Increment()
	if err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%w (the TPM anchor counter moved to %d, the store expects %d)", ErrAnchorAhead, got, want)
	}
	return nil
}

// anchoredCheckpoint signs a checkpoint of the audit head in tx, carrying the next
// anchor value, and records it as the store's anchor. After tx commits, the caller
// must call st.advanceAnchor(cp.Anchor) (held under st.anchorMu throughout).
func (tx *Tx) anchoredCheckpoint(st *Station) (*AuditCheckpoint, error) {
	a, ok, err := tx.anchorState()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w (the store has no TPM anchor)", ErrRollback)
	}
	head, err := tx.auditHead()
	if err != nil {
		return nil, err
	}
	if head.Seq == 0 {
		return nil, nil
	}
	if head.Seq == a.Seq { // nothing new since the anchored checkpoint: it stands
		var cp AuditCheckpoint
		if err := tx.getJSON(seqKey(pCheckpoint, a.Seq), &cp); err != nil {
			return nil, err
		}
		return &cp, nil
	}
	cp, err := tx.addCheckpoint(st.signer, a.Anchor+1)
	if err != nil {
		return nil, err
	}
	b, _ := json.Marshal(anchorRecord{V: recordVersion, Anchor: cp.Anchor, Seq: cp.Seq})
	return cp, tx.set(kAnchor, b)
}

// anchoredUpdate runs fn and then an anchored checkpoint in one store transaction, and
// anchors it in the TPM. It returns the checkpoint (nil when the log is empty).
func (st *Station) anchoredUpdate(fn func(tx *Tx) error) (*AuditCheckpoint, error) {
	st.anchorMu.Lock()
	defer st.anchorMu.Unlock()
	// An earlier anchoring whose TPM write failed (the store is one step ahead) is
	// finished first, so anchor values always advance by one.
	var a anchorRecord
	if err := st.store.View(func(tx *Tx) (err error) { a, _, err = tx.anchorState(); return err }); err != nil {
		return nil, err
	}
	if err := st.advanceAnchor(a.Anchor); err != nil {
		return nil, fmt.Errorf("vault: anchoring audit checkpoint %d in the TPM: %w", a.Seq, err)
	}
	var cp *AuditCheckpoint
	err := st.store.Update(func(tx *Tx) (err error) {
		if fn != nil {
			if err := fn(tx); err != nil {
				return err
			}
		}
		cp, err = tx.anchoredCheckpoint(st)
		return err
	})
	if err != nil || cp == nil || cp.Anchor == a.Anchor {
		return cp, err
	}
	if testHookAfterCheckpointCommit != nil {
		testHookAfterCheckpointCommit()
	}
	if err := st.advanceAnchor(cp.Anchor); err != nil {
		return nil, fmt.Errorf("vault: anchoring audit checkpoint %d in the TPM: %w", cp.Seq, err)
	}
	st.anchoredSeq = cp.Seq
	return cp, nil
}

// testHookAfterCheckpointCommit runs between the store write and the TPM write (crash
// tests kill the process there).
var testHookAfterCheckpointCommit func()

// initAnchor starts the anchor of a new store at the anchor counter's current value
// (a TPM_NT_COUNTER is set by its first increment, to a value above every counter the
// TPM has had, so it is initialised here and read).
func (st *Station) initAnchor() error {
	t, err := st.anchor.Read()
	if err != nil {
		return err
	}
	if !st.anchor.initialized() {
		if t, err = st.anchor.Increment(); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(anchorRecord{V: recordVersion, Anchor: t})
	return st.store.Update(func(tx *Tx) error { return tx.set(kAnchor, b) })
}
