package enroll

import (
	"fmt"
	"sort"

	"enrollstation/vault"
)

// AuditApplications maps the record IDs that audit entries name to the application
// numbers they stand for: an enrollment's own, a batch's enrollments', so the audit log
// can be searched by application number.
func AuditApplications(st *vault.Station) (map[string][]string, error) {
	apps := map[string][]string{}
	err := st.Store().View(func(tx *vault.Tx) error {
		for _, s := range vault.Statuses {
			for _, id := range tx.EnrollmentsByStatus(s) {
				e, err := tx.EnrollmentMeta(id)
				if err != nil {
					return err
				}
				if no := e.Demographics.ApplicationNumber; no != "" {
					apps[id] = []string{no}
				}
			}
		}
		for _, id := range tx.Batches() {
			b, err := tx.Batch(id)
			if err != nil {
				return err
			}
			var nos []string
			for _, eid := range b.EnrollmentIDs {
				nos = append(nos, apps[eid]...)
			}
			sort.Strings(nos)
			apps[id] = nos
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("workflow: reading application numbers: %w", err)
	}
	return apps, nil
}
