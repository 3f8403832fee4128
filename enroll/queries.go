package enroll

import (
	"fmt"
	"sort"
	"time"

	"enrollstation/vault"
)

// ClerkDay lists the enrollments clerk made on the day of t (station time), newest
// first, for the clerk's home screen. An unreadable record is an error, not a gap.
func ClerkDay(st *vault.Station, clerk string, t time.Time) ([]*vault.Enrollment, error) {
	var out []*vault.Enrollment
	err := st.Store().View(func(tx *vault.Tx) error {
		for _, id := range tx.EnrollmentsByDay(t) {
			e, err := tx.EnrollmentMeta(id)
			if err != nil {
				return fmt.Errorf("workflow: reading enrollment %s: %w", id, err)
			}
			if e.CapturedBy == clerk {
				out = append(out, e)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreatedAt.After(out[j].CreatedAt) })
	return out, nil
}

// AuditLog returns the whole audit log, newest entry first, for the audit screen.
func AuditLog(st *vault.Station) ([]vault.AuditEntry, error) {
	var all []vault.AuditEntry
	err := st.Store().View(func(tx *vault.Tx) (err error) {
		all, err = tx.AuditEntries(1, 0)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("workflow: reading the audit log: %w", err)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].Seq > all[j].Seq })
	return all, nil
}
