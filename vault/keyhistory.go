package vault

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"time"
)

// Reasons an approval key was replaced (ApprovalKeyEntry.Reason, SupervisorKey.Reason).
const (
	KeyReasonPasswordReset = "password reset" // an administrator reset the password
	KeyReasonRevoked       = "revoked"        // the supervisor role was taken away
	KeyReasonRecovery      = "recovery"       // the station recovery code was used
)

// ApprovalKeyEntry is one approval key a supervisor has held (stored with the account).
type ApprovalKeyEntry struct {
	PublicKey  []byte    `json:"public_key"` // PKIX DER
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"` // operator whose act made the key
	ReplacedAt time.Time `json:"replaced_at,omitempty"`
	ReplacedBy string    `json:"replaced_by,omitempty"` // operator whose act retired it
	Reason     string    `json:"reason,omitempty"`      // KeyReason*
}

// SupervisorKey is one row of the supervisors' key history, as plain data for the
// bundle's roster: which key signed approvals for which supervisor, from when, until
// when and why it stopped. Times are UTC; ReplacedAt is zero for a key in use.
type SupervisorKey struct {
	Supervisor string    `json:"supervisor"`
	KeyID      string    `json:"key_id"`     // hex SHA-256 of PublicKey (as KeyID)
	PublicKey  []byte    `json:"public_key"` // ECDSA P-256, PKIX DER
	CreatedAt  time.Time `json:"created_at"`
	CreatedBy  string    `json:"created_by"`
	ReplacedAt time.Time `json:"replaced_at,omitempty"`
	ReplacedBy string    `json:"replaced_by,omitempty"`
	Reason     string    `json:"reason,omitempty"` // "password reset", "revoked", "recovery"
}

// newApprovalKey makes o a new TPM approval key under auth and appends it to o's key
// history (the caller stores o).
func (st *Station) newApprovalKey(o *Operator, auth []byte, by string, now time.Time) error {
	blob, err := st.tpm.CreateSigningKey(auth)
	if err != nil {
		return err
	}
	pub, err := st.approvalPublicDER(blob)
	if err != nil {
		return err
	}
	o.ApprovalKey = blob
	o.KeyHistory = append(o.KeyHistory, ApprovalKeyEntry{PublicKey: pub, CreatedAt: now, CreatedBy: by})
	return nil
}

// retireApprovalKey ends o's current approval key (it can no longer sign) and records
// why in the key history. A key made before there was a history gets its entry now.
func (st *Station) retireApprovalKey(o *Operator, by, reason string, now time.Time) error {
	if o.ApprovalKey == nil {
		return nil
	}
	pub, err := st.approvalPublicDER(o.ApprovalKey)
	if err != nil {
		return err
	}
	n := len(o.KeyHistory)
	if n == 0 || string(o.KeyHistory[n-1].PublicKey) != string(pub) || !o.KeyHistory[n-1].ReplacedAt.IsZero() {
		o.KeyHistory = append(o.KeyHistory, ApprovalKeyEntry{PublicKey: pub, CreatedAt: o.PasswordChangedAt, CreatedBy: o.CreatedBy})
		n++
	}
	o.KeyHistory[n-1].ReplacedAt, o.KeyHistory[n-1].ReplacedBy, o.KeyHistory[n-1].Reason = now, by, reason
	o.ApprovalKey = nil
	return nil
}

func (st *Station) approvalPublicDER(b *KeyBlob) ([]byte, error) {
	s, err := st.tpm.Signer(b, nil) // parses the public area only
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(s.PublicKey())
	if err != nil {
		return nil, fmt.Errorf("vault: approval key: %w", err)
	}
	return der, nil
}

// SupervisorKeyHistory lists every approval key any operator has held, by operator
// name and then oldest first: current keys (ReplacedAt zero) and replaced or revoked
// ones with who replaced them, when and why. A key made before key histories were kept
// shows with the account's password time as CreatedAt.
func (st *Station) SupervisorKeyHistory() ([]SupervisorKey, error) {
	var out []SupervisorKey
	err := st.store.View(func(tx *Tx) error {
		for _, n := range tx.Operators() {
			o, err := tx.Operator(n)
			if err != nil {
				return err
			}
			hist := o.KeyHistory
			if o.ApprovalKey != nil {
				pub, err := st.approvalPublicDER(o.ApprovalKey)
				if err != nil {
					return fmt.Errorf("vault: approval key of %s: %w", o.Name, err)
				}
				if k := len(hist); k == 0 || string(hist[k-1].PublicKey) != string(pub) {
					hist = append(hist, ApprovalKeyEntry{PublicKey: pub, CreatedAt: o.PasswordChangedAt, CreatedBy: o.CreatedBy})
				}
			}
			for _, h := range hist {
				sum := sha256.Sum256(h.PublicKey) // as KeyID: SHA-256 of the PKIX DER
				out = append(out, SupervisorKey{Supervisor: o.Name, KeyID: hex.EncodeToString(sum[:]), PublicKey: append([]byte(nil), h.PublicKey...),
					CreatedAt: h.CreatedAt.UTC(), CreatedBy: h.CreatedBy, ReplacedAt: h.ReplacedAt.UTC(), ReplacedBy: h.ReplacedBy, Reason: h.Reason})
			}
		}
		return nil
	})
	return out, err
}
