package enroll

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"enrollstation/vault"
)

// ErrNothingToBatch means there are no approved enrollments outside a batch.
var ErrNothingToBatch = errors.New("workflow: no approved enrollments waiting for a batch")

// ExportState is where a batch is on its way to the issuer.
type ExportState string

// Export states, in order.
const (
	ExportClosed       ExportState = "closed"       // closed, not built yet
	ExportQueued       ExportState = "queued"       // bundle built, in the outbox
	ExportSent         ExportState = "sent"         // a delivery was attempted and failed; will be retried
	ExportConfirmed    ExportState = "confirmed"    // the target confirmed the bundle's hash
	ExportAcknowledged ExportState = "acknowledged" // the issuer acknowledged it
)

// BatchInfo is one line of the export history.
type BatchInfo struct {
	vault.Batch
	State ExportState
}

// StateOf says where a batch is.
func StateOf(b *vault.Batch) ExportState {
	switch {
	case !b.IssuerAckAt.IsZero():
		return ExportAcknowledged
	case b.Status == vault.BatchExported:
		return ExportConfirmed
	case b.DeliveryError != "":
		return ExportSent
	case b.BundleID != "":
		return ExportQueued
	}
	return ExportClosed
}

// CloseBatch puts every approved enrollment that is not yet in a batch into a new
// closed batch and returns it. Its members are fixed from then on.
func CloseBatch(st *vault.Station, sup *vault.Session) (*vault.Batch, error) {
	if !sup.Has(vault.RoleSupervisor) {
		return nil, fmt.Errorf("%w (%s is not a supervisor)", vault.ErrForbidden, sup.Name)
	}
	var b *vault.Batch
	err := st.Store().Update(func(tx *vault.Tx) error {
		taken := map[string]bool{}
		for _, id := range tx.Batches() {
			ob, err := tx.Batch(id)
			if err != nil {
				return err
			}
			for _, e := range append(ob.EnrollmentIDs, ob.Quarantined...) {
				taken[e] = true
			}
		}
		var ids []string
		for _, id := range tx.EnrollmentsByStatus(vault.StatusApproved) {
			if !taken[id] {
				ids = append(ids, id)
			}
		}
		if len(ids) == 0 {
			return ErrNothingToBatch
		}
		sort.Strings(ids)
		now := time.Now().UTC()
		b = &vault.Batch{ID: "B" + vault.NewID(now), Status: vault.BatchClosed, CreatedBy: sup.Name,
			CreatedAt: now, ClosedAt: now, EnrollmentIDs: ids}
		if err := tx.PutBatch(b); err != nil {
			return err
		}
		return tx.Audit(sup.Name, "batch.close", b.ID, fmt.Sprintf("%d enrollments", len(ids)))
	})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// Batches lists the station's batches, newest first, with their export state.
func Batches(st *vault.Station) ([]BatchInfo, error) {
	var out []BatchInfo
	err := st.Store().View(func(tx *vault.Tx) error {
		for _, id := range tx.Batches() {
			b, err := tx.Batch(id)
			if err != nil {
				return err
			}
			out = append(out, BatchInfo{Batch: *b, State: StateOf(b)})
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, err
}

// Batch reads one batch.
func Batch(st *vault.Station, id string) (b *vault.Batch, err error) {
	err = st.Store().View(func(tx *vault.Tx) error { b, err = tx.Batch(id); return err })
	return b, err
}

// ErrNotDamaged means Quarantine was asked to take out a record that reads correctly.
var ErrNotDamaged = errors.New("workflow: the enrollment reads correctly; only a damaged record can be quarantined")

// Quarantine takes a damaged enrollment (one that fails its integrity check, or whose
// record is gone) out of a closed batch whose bundle has not been built, so the rest of
// the batch can be exported. Only a supervisor may, only for a record that really is
// damaged, and it is audited with the reason. The record stays in the store (approved,
// unreadable) for investigation and goes into no later batch.
func Quarantine(st *vault.Station, sup *vault.Session, batchID, enrollmentID, reason string) error {
	if !sup.Has(vault.RoleSupervisor) {
		return fmt.Errorf("%w (%s is not a supervisor)", vault.ErrForbidden, sup.Name)
	}
	reason = strings.TrimSpace(reason)
	if reason == "" {
		reason = "damaged record"
	}
	return st.Store().Update(func(tx *vault.Tx) error {
		b, err := tx.Batch(batchID)
		if err != nil {
			return err
		}
		if b.Status != vault.BatchClosed || b.BundleID != "" {
			return fmt.Errorf("%w: batch %s is %s (bundle %q); only a closed batch not yet built can lose a member", vault.ErrNotInWorkflow, batchID, StateOf(b), b.BundleID)
		}
		i := slices.Index(b.EnrollmentIDs, enrollmentID)
		if i < 0 {
			return fmt.Errorf("workflow: enrollment %s is not in batch %s", enrollmentID, batchID)
		}
		if _, err := tx.Enrollment(enrollmentID); err == nil {
			return fmt.Errorf("%w (%s)", ErrNotDamaged, enrollmentID)
		} else if !errors.Is(err, vault.ErrIntegrity) && !errors.Is(err, vault.ErrNotFound) {
			return err
		}
		b.EnrollmentIDs = slices.Delete(slices.Clone(b.EnrollmentIDs), i, i+1)
		b.Quarantined = append(b.Quarantined, enrollmentID)
		if err := tx.PutBatch(b); err != nil {
			return err
		}
		return tx.Audit(sup.Name, "batch.quarantine", batchID, "enrollment "+enrollmentID+": "+reason)
	})
}
