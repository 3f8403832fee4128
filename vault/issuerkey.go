package vault

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// ErrSecondPersonRequired means an issuer-key change lacks its second person.
var ErrSecondPersonRequired = errors.New("vault: changing the issuer key needs a second person: another administrator or a supervisor, with their password")

// IssuerKeyChange is one change of the issuer key bundles are encrypted to, as plain
// data for the next bundle's manifest, so the issuer sees every change.
type IssuerKeyChange struct {
	Seq            uint64    `json:"seq"`                       // 1, 2, … in the order the changes were made
	At             time.Time `json:"at"`                        // UTC
	OldFingerprint string    `json:"old_fingerprint,omitempty"` // "" when the station had no issuer key
	NewFingerprint string    `json:"new_fingerprint"`
	By             string    `json:"by"`                        // administrator who made it
	SecondApprover string    `json:"second_approver,omitempty"` // "" only for the first key, set at provisioning
	SecondRole     string    `json:"second_role,omitempty"`     // "admin" or "supervisor"
	// BundleCounter is the TPM bundle counter when the change was made: bundles
	// numbered above it were built after the change.
	BundleCounter uint64 `json:"bundle_counter"`
}

const pIssuerKeyChange = "ik/"

// SetIssuerKey makes key the issuer key bundles are encrypted to, as administrator
// admin with second, another administrator or a supervisor (both re-checked now). Only
// the station's first issuer key may be set by one person (second nil). fingerprint
// names a key file's fingerprint (the exporter's; vault does not parse issuer keys);
// it must accept key. The change is recorded and audited in one transaction, and
// returned; IssuerKeyChangesSince reads it back for bundles.
func (st *Station) SetIssuerKey(admin, second *Session, key []byte, fingerprint func([]byte) (string, error)) (*IssuerKeyChange, error) {
	newFP, err := fingerprint(key)
	if err != nil {
		return nil, err
	}
	counter, err := st.counter.Read()
	if err != nil {
		return nil, err
	}
	var ch *IssuerKeyChange
	err = st.store.Update(func(tx *Tx) error {
		ch = nil
		if _, err := authorizeTx(tx, admin, RoleAdmin); err != nil {
			return err
		}
		s, err := tx.Settings()
		if err != nil {
			return err
		}
		if bytes.Equal(s.IssuerKey, key) {
			return fmt.Errorf("%w: that is already the station's issuer key", ErrInvalid)
		}
		c := IssuerKeyChange{At: st.cfg.now(), NewFingerprint: newFP, By: admin.Name, BundleCounter: counter}
		if len(s.IssuerKey) > 0 {
			if c.OldFingerprint, err = fingerprint(s.IssuerKey); err != nil {
				c.OldFingerprint = "unreadable key" // still replaceable, still recorded
			}
		}
		if second != nil {
			if second.Name == admin.Name {
				return fmt.Errorf("%w (the second person must be someone else)", ErrSecondPersonRequired)
			}
			o, err := authorizeTx(tx, second, RoleAdmin, RoleSupervisor)
			if errors.Is(err, ErrForbidden) {
				return fmt.Errorf("%w: %w", ErrSecondPersonRequired, err)
			}
			if err != nil {
				return fmt.Errorf("second person: %w", err)
			}
			c.SecondApprover, c.SecondRole = second.Name, string(RoleSupervisor)
			if o.HasRole(RoleAdmin) {
				c.SecondRole = string(RoleAdmin)
			}
		} else if len(s.IssuerKey) > 0 {
			return ErrSecondPersonRequired
		}
		last := tx.keys(pIssuerKeyChange)
		if len(last) > 0 {
			var prev IssuerKeyChange
			if err := tx.getJSON(pIssuerKeyChange+last[len(last)-1], &prev); err != nil {
				return err
			}
			c.Seq = prev.Seq
		}
		c.Seq++
		s.IssuerKey = append([]byte(nil), key...)
		if err := tx.PutSettings(s); err != nil {
			return err
		}
		if err := tx.putJSON(fmt.Sprintf("%s%020d", pIssuerKeyChange, c.Seq), &c); err != nil {
			return err
		}
		detail := fmt.Sprintf("%s -> %s", orNone(c.OldFingerprint), c.NewFingerprint)
		if c.SecondApprover != "" {
			detail += ", second person " + c.SecondApprover
		}
		if err := tx.Audit(admin.Name, "station.issuer-key", "", detail); err != nil {
			return err
		}
		ch = &c
		return nil
	})
	return ch, err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// IssuerKeyChangesSince returns the issuer-key changes made after bundle seq was
// numbered (BundleCounter ≥ seq), oldest first: the bundle numbered N carries
// IssuerKeyChangesSince(N-1). 0 returns every change.
func (st *Station) IssuerKeyChangesSince(seq uint64) ([]IssuerKeyChange, error) {
	out := []IssuerKeyChange{}
	err := st.store.View(func(tx *Tx) error {
		for _, k := range tx.keys(pIssuerKeyChange) {
			var c IssuerKeyChange
			if err := tx.getJSON(pIssuerKeyChange+k, &c); err != nil {
				return err
			}
			if c.BundleCounter >= seq {
				out = append(out, c)
			}
		}
		return nil
	})
	return out, err
}
