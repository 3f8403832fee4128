package vault

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Account errors.
var (
	ErrBadPassword    = errors.New("wrong user name or password")
	ErrAccountLocked  = errors.New("this account is locked after too many failed logins; an administrator must unlock it")
	ErrForbidden      = errors.New("this operator does not have the role needed for that")
	ErrWeakPassword   = errors.New("passwords must be at least 8 characters")
	ErrUserExists     = errors.New("an operator with that name already exists")
	ErrSelfApproval   = errors.New("a supervisor cannot approve an enrollment they captured")
	ErrNoApprovalKey  = errors.New("this supervisor has no approval key")
	ErrNotInWorkflow  = errors.New("the enrollment is not in a state that allows this")
	ErrBadApprovalSig = errors.New("the approval signature does not verify")
)

// Session is a logged-in operator. It holds the TPM authorization value derived from
// the password, needed to use a supervisor's approval key, so it lives only in memory.
type Session struct {
	Name  string
	Roles []Role
	auth  []byte
}

// Has reports whether the session's operator holds role r.
func (s *Session) Has(r Role) bool {
	for _, x := range s.Roles {
		if x == r {
			return true
		}
	}
	return false
}

func (s *Session) require(r Role) error {
	if s == nil {
		return ErrForbidden
	}
	if !s.Has(r) {
		return fmt.Errorf("%w (%s is not %s)", ErrForbidden, s.Name, r)
	}
	return nil
}

func checkPassword(pw string) error {
	if utf8.RuneCountInString(pw) < 8 {
		return ErrWeakPassword
	}
	return nil
}

// derive runs argon2id once; the first half of the output is stored to check the
// password, the second half is the TPM authorization value of the approval key and is
// never stored.
func derive(pw string, salt []byte, p KDFParams) (verifier, auth []byte) {
	k := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, 64)
	// go-tpm (v0.9.8) cuts an HMAC session's auth value at its first zero byte
	// (google/go-tpm#446), so a key whose auth holds one fails TPM_RC_AUTH_FAIL and
	// bumps the DA counter (about one password in eight). Auth values without zeros
	// are unchanged, so existing keys keep working.
	for i := 32; i < 64; i++ {
		if k[i] == 0 {
			k[i] = 1
		}
	}
	return k[:32], k[32:]
}

func (st *Station) newCredentials(o *Operator, pw string) (auth []byte, err error) {
	if err := checkPassword(pw); err != nil {
		return nil, err
	}
	o.Salt = make([]byte, 16)
	if _, err := rand.Read(o.Salt); err != nil {
		return nil, err
	}
	o.KDF = st.cfg.KDF
	o.Verifier, auth = derive(pw, o.Salt, o.KDF)
	o.PasswordChangedAt = st.cfg.now()
	return auth, nil
}

func validRoles(roles []Role) error {
	if len(roles) == 0 {
		return fmt.Errorf("%w: an operator needs at least one role", ErrInvalid)
	}
	for _, r := range roles {
		if _, err := ParseRole(string(r)); err != nil {
			return err
		}
	}
	return nil
}

func (st *Station) bootstrapAdmin(name, pw string) error {
	o := &Operator{Name: name, Roles: []Role{RoleAdmin}, CreatedAt: st.cfg.now(), CreatedBy: "station"}
	if _, err := st.newCredentials(o, pw); err != nil {
		return err
	}
	return st.store.Update(func(tx *Tx) error {
		if len(tx.Operators()) > 0 {
			return ErrAlreadyInitialized
		}
		if err := tx.PutOperator(o); err != nil {
			return err
		}
		return tx.Audit("station", "station.init", "", "first administrator "+name)
	})
}

// Login checks a password. Each failure counts; after Settings.LockoutThreshold
// consecutive failures the account locks until an administrator unlocks it.
func (st *Station) Login(name, pw string) (*Session, error) {
	var o *Operator
	err := st.store.View(func(tx *Tx) (err error) {
		o, err = tx.Operator(name)
		return err
	})
	if errors.Is(err, ErrNotFound) {
		// Spend the same time as a real check so names cannot be probed by timing.
		derive(pw, make([]byte, 16), st.cfg.KDF)
		return nil, ErrBadPassword
	}
	if err != nil {
		return nil, err
	}
	if o.Locked {
		return nil, ErrAccountLocked
	}
	verifier, auth := derive(pw, o.Salt, o.KDF)
	ok := subtle.ConstantTimeCompare(verifier, o.Verifier) == 1
	var locked bool
	err = st.store.Update(func(tx *Tx) error {
		cur, err := tx.Operator(name)
		if err != nil {
			return err
		}
		if cur.Locked {
			locked = true
			return nil
		}
		set, err := tx.Settings()
		if err != nil {
			return err
		}
		if ok {
			cur.Failures = 0
			cur.LastLoginAt = st.cfg.now()
			if err := tx.PutOperator(cur); err != nil {
				return err
			}
			return tx.Audit(name, "user.login", name, "")
		}
		cur.Failures++
		if err := tx.Audit(name, "user.login-failed", name, fmt.Sprintf("failure %d", cur.Failures)); err != nil {
			return err
		}
		if cur.Failures >= set.LockoutThreshold {
			cur.Locked = true
			locked = true
			if err := tx.Audit("station", "user.lock", name, "too many failed logins"); err != nil {
				return err
			}
		}
		return tx.PutOperator(cur)
	})
	if err != nil {
		return nil, err
	}
	if locked && !ok {
		return nil, fmt.Errorf("%w (%v)", ErrAccountLocked, ErrBadPassword)
	}
	if locked {
		return nil, ErrAccountLocked
	}
	if !ok {
		return nil, ErrBadPassword
	}
	return &Session{Name: o.Name, Roles: append([]Role(nil), o.Roles...), auth: auth}, nil
}

// AddUser creates an operator; admin must be an administrator's session. A supervisor
// gets a TPM approval key authorized by a value derived from the password.
func (st *Station) AddUser(admin *Session, name string, roles []Role, pw string) error {
	if err := admin.require(RoleAdmin); err != nil {
		return err
	}
	if err := validName(name); err != nil {
		return err
	}
	if err := validRoles(roles); err != nil {
		return err
	}
	o := &Operator{Name: name, Roles: append([]Role(nil), roles...), CreatedAt: st.cfg.now(), CreatedBy: admin.Name}
	auth, err := st.newCredentials(o, pw)
	if err != nil {
		return err
	}
	if o.HasRole(RoleSupervisor) {
		if o.ApprovalKey, err = st.tpm.CreateSigningKey(auth); err != nil {
			return err
		}
	}
	return st.store.Update(func(tx *Tx) error {
		if _, err := tx.Operator(name); err == nil {
			return fmt.Errorf("%w: %s", ErrUserExists, name)
		}
		if err := tx.PutOperator(o); err != nil {
			return err
		}
		return tx.Audit(admin.Name, "user.add", name, fmt.Sprintf("roles %v", roles))
	})
}

// Users lists the operators (without their password material).
func (st *Station) Users() ([]Operator, error) {
	var out []Operator
	err := st.store.View(func(tx *Tx) error {
		for _, n := range tx.Operators() {
			o, err := tx.Operator(n)
			if err != nil {
				return err
			}
			o.Salt, o.Verifier, o.ApprovalKey = nil, nil, nil
			out = append(out, *o)
		}
		return nil
	})
	return out, err
}

// SetLocked locks or unlocks an account (unlocking clears the failure count).
func (st *Station) SetLocked(admin *Session, name string, locked bool) error {
	if err := admin.require(RoleAdmin); err != nil {
		return err
	}
	if locked && name == admin.Name {
		return fmt.Errorf("%w: an administrator cannot lock their own account", ErrForbidden)
	}
	action := "user.unlock"
	if locked {
		action = "user.lock"
	}
	return st.updateOperator(admin.Name, action, name, "", func(o *Operator) {
		o.Locked = locked
		if !locked {
			o.Failures = 0
		}
	})
}

// updateOperator applies edit to the stored operator name and audits it as actor's action,
// in one durable transaction.
func (st *Station) updateOperator(actor, action, name, detail string, edit func(*Operator)) error {
	return st.store.Update(func(tx *Tx) error {
		o, err := tx.Operator(name)
		if err != nil {
			return err
		}
		edit(o)
		if err := tx.PutOperator(o); err != nil {
			return err
		}
		return tx.Audit(actor, action, name, detail)
	})
}

// takeCredentials copies the password and approval-key material newCredentials (and a
// new or re-wrapped approval key) set on from.
func (o *Operator) takeCredentials(from *Operator) {
	o.KDF, o.Salt, o.Verifier, o.ApprovalKey, o.PasswordChangedAt = from.KDF, from.Salt, from.Verifier, from.ApprovalKey, from.PasswordChangedAt
}

// ChangePassword changes an operator's password, re-wrapping a supervisor's approval
// key for the new one. The old password must be right.
func (st *Station) ChangePassword(name, oldPW, newPW string) error {
	sess, err := st.Login(name, oldPW)
	if err != nil {
		return err
	}
	if err := checkPassword(newPW); err != nil {
		return err
	}
	var o *Operator
	if err := st.store.View(func(tx *Tx) (err error) { o, err = tx.Operator(name); return err }); err != nil {
		return err
	}
	auth, err := st.newCredentials(o, newPW)
	if err != nil {
		return err
	}
	if o.ApprovalKey != nil {
		if o.ApprovalKey, err = st.tpm.ChangeKeyAuth(o.ApprovalKey, sess.auth, auth); err != nil {
			return err
		}
	}
	return st.updateOperator(name, "user.passwd", name, "", func(cur *Operator) { cur.takeCredentials(o) })
}
