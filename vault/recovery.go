package vault

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Recovery code errors.
var (
	ErrBadRecoveryCode  = errors.New("vault: that is not this station's recovery code")
	ErrRecoveryCodeUsed = errors.New("vault: the station recovery code has already been used; an administrator can make a new one")
	ErrNoRecoveryCode   = errors.New("vault: this station has no recovery code")
)

// recoveryRecord is the station recovery code as stored: only its argon2id hash.
type recoveryRecord struct {
	V         int       `json:"v"`
	KDF       KDFParams `json:"kdf"`
	Salt      []byte    `json:"salt"`
	Hash      []byte    `json:"hash"`
	CreatedAt time.Time `json:"created_at"`
	UsedAt    time.Time `json:"used_at,omitempty"`
	UsedFor   string    `json:"used_for,omitempty"`
}

const kRecovery = "m/recovery-code"

var recoveryEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newRecoveryCode makes a recovery code: 20 random bytes (160 bits) in base32, grouped
// by five for writing down, and its stored hash.
func (st *Station) newRecoveryCode() (string, *recoveryRecord, error) {
	raw := make([]byte, 20)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, err
	}
	enc := recoveryEncoding.EncodeToString(raw)
	var b strings.Builder
	for i := 0; i < len(enc); i += 4 {
		if i > 0 {
			b.WriteByte('-')
		}
		b.WriteString(enc[i:min(i+4, len(enc))])
	}
	rec := &recoveryRecord{V: recordVersion, KDF: st.cfg.KDF, Salt: make([]byte, 16), CreatedAt: st.cfg.now()}
	if _, err := rand.Read(rec.Salt); err != nil {
		return "", nil, err
	}
	rec.Hash, _ = derive(normalizeRecoveryCode(b.String()), rec.Salt, rec.KDF)
	return b.String(), rec, nil
}

// normalizeRecoveryCode drops what people add or change when copying a code: spaces,
// dashes, lower case.
func normalizeRecoveryCode(s string) string {
	return strings.ToUpper(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, s))
}

func putRecovery(tx *Tx, rec *recoveryRecord, actor string) error {
	if err := tx.putJSON(kRecovery, rec); err != nil {
		return err
	}
	return tx.Audit(actor, "station.recovery-code", "", "new recovery code issued (stored as an argon2id hash)")
}

// TakeRecoveryCode returns the recovery code Init made, once: the caller prints or shows
// it to be written down. Later calls, and stations opened with Open, return "". Only
// its argon2id hash is stored.
func (st *Station) TakeRecoveryCode() string {
	c := st.recoveryCode
	st.recoveryCode = ""
	return c
}

// NewRecoveryCode replaces the station recovery code with a new one (e.g. after it was
// used), as an administrator, and returns it to be written down.
func (st *Station) NewRecoveryCode(admin *Session) (string, error) {
	if err := st.Authorize(admin, RoleAdmin); err != nil {
		return "", err
	}
	code, rec, err := st.newRecoveryCode()
	if err != nil {
		return "", err
	}
	err = st.store.Update(func(tx *Tx) error {
		if _, err := authorizeTx(tx, admin, RoleAdmin); err != nil {
			return err
		}
		return putRecovery(tx, rec, admin.Name)
	})
	if err != nil {
		return "", err
	}
	return code, nil
}

// RecoverAdmin uses the station recovery code to let the administrator name in again
// when nobody else can (forgotten password, locked account): it unlocks the account,
// ends any timed lockout and sets newPW. The code works once; the attempt, right or
// wrong, is audited. A supervisor's approval key is replaced as after a reset (reason
// "recovery").
func (st *Station) RecoverAdmin(name, code, newPW string) error {
	if err := checkPassword(newPW); err != nil {
		return err
	}
	// The code is checked before the name, so the answer says nothing about which
	// names exist to someone without it.
	var rec recoveryRecord
	var key string
	var o *Operator
	var nameErr error
	err := st.store.View(func(tx *Tx) error {
		if err := tx.getJSON(kRecovery, &rec); err != nil {
			return err
		}
		key, o, nameErr = tx.loginName(name)
		if nameErr != nil && !errors.Is(nameErr, ErrNotFound) {
			return nameErr
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrNotFound):
		return ErrNoRecoveryCode
	case err != nil:
		return err
	}
	if !rec.UsedAt.IsZero() {
		return st.auditRecovery(key, "station.recover-refused", "recovery code already used", ErrRecoveryCodeUsed)
	}
	h, _ := derive(normalizeRecoveryCode(code), rec.Salt, rec.KDF)
	if subtle.ConstantTimeCompare(h, rec.Hash) != 1 {
		return st.auditRecovery(key, "station.recover-refused", "wrong recovery code", ErrBadRecoveryCode)
	}
	if o == nil {
		return nameErr
	}
	if !o.HasRole(RoleAdmin) {
		return fmt.Errorf("%w: the recovery code unlocks administrators only", ErrForbidden)
	}
	now := st.cfg.now()
	auth, err := st.newCredentials(o, newPW)
	if err != nil {
		return err
	}
	if o.ApprovalKey != nil {
		if err := st.retireApprovalKey(o, o.Name, KeyReasonRecovery, now); err != nil {
			return err
		}
		if err := st.newApprovalKey(o, auth, o.Name, now); err != nil {
			return err
		}
	}
	return st.store.Update(func(tx *Tx) error {
		var cur recoveryRecord
		if err := tx.getJSON(kRecovery, &cur); err != nil {
			return err
		}
		if !cur.UsedAt.IsZero() || string(cur.Hash) != string(rec.Hash) {
			return ErrRecoveryCodeUsed // used or replaced meanwhile
		}
		cur.UsedAt, cur.UsedFor = now, key
		if err := tx.putJSON(kRecovery, &cur); err != nil {
			return err
		}
		acct, err := tx.Operator(key)
		if err != nil {
			return err
		}
		acct.takeCredentials(o)
		acct.Locked, acct.Failures, acct.MustChangePassword = false, 0, false
		if err := tx.PutOperator(acct); err != nil {
			return err
		}
		if err := tx.putLoginState(key, loginState{}); err != nil {
			return err
		}
		return tx.Audit(key, "station.recover", key, "recovery code used: account unlocked, new password set")
	})
}

func (st *Station) auditRecovery(name, action, detail string, result error) error {
	actor := name
	if actor == "" {
		actor = "station" // not a name anyone can have
	}
	if err := st.store.Update(func(tx *Tx) error { return tx.Audit(actor, action, name, detail) }); err != nil {
		return err
	}
	return result
}
