package vault

import (
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
)

// Account errors.
var (
	ErrBadPassword   = errors.New("wrong user name or password")
	ErrAccountLocked = errors.New("this account is locked")
	ErrForbidden     = errors.New("this operator does not have the role needed for that")
	ErrWeakPassword  = errors.New("passwords must be at least 8 characters and not only spaces")
	ErrUserExists    = errors.New("an operator with that name already exists")
	// ErrPasswordChangeRequired: the password was a one-time password from a reset; it
	// only allows ChangePassword.
	ErrPasswordChangeRequired = errors.New("this password was a one-time password: choose a new password to log in")
	// ErrSessionExpired: the operator's password was reset or changed after this login.
	ErrSessionExpired = errors.New("this login is no longer valid (the password was changed or reset since); log in again")
	ErrSelfApproval   = errors.New("a supervisor cannot approve an enrollment they captured")
	ErrNoApprovalKey  = errors.New("this supervisor has no approval key (after a reset or a promotion it is made at the next login: log in again)")
	ErrNotInWorkflow  = errors.New("the enrollment is not in a state that allows this")
	ErrBadApprovalSig = errors.New("the approval signature does not verify")
)

// LockoutSteps are the growing lockouts after each run of Settings.LockoutThreshold
// failed logins for one name: 1, 5, 15, then 60 minutes each time. A successful login
// starts again at the first.
var LockoutSteps = []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute, time.Hour}

// LockedError is a refused login: timed after failed logins (Until set), or by an
// administrator (ByAdmin). It matches ErrAccountLocked with errors.Is. A timed lockout
// is the same for names that do not exist, so it reveals nothing about them.
type LockedError struct {
	Until   time.Time // end of a timed lockout
	ByAdmin bool      // locked by an administrator until unlocked
	Failed  bool      // this attempt's password was wrong too
}

func (e *LockedError) Error() string {
	if e.ByAdmin {
		return "this account is locked by an administrator; ask one to unlock it"
	}
	s := "too many failed logins"
	if e.Failed {
		s = ErrBadPassword.Error() + "; " + s
	}
	return fmt.Sprintf("%s: logins with this name are refused until %s UTC; wait, or ask an administrator to unlock it", s, e.Until.UTC().Format("15:04:05"))
}

// Is makes errors.Is(err, ErrAccountLocked) (and ErrBadPassword for a failed attempt) hold.
func (e *LockedError) Is(target error) bool {
	return target == ErrAccountLocked || (e.Failed && target == ErrBadPassword)
}

// Session is a logged-in operator. It holds the TPM authorization value derived from
// the password, needed to use a supervisor's approval key, so it lives only in memory.
// Roles are those at login; privileged actions re-check the stored account (see
// Station.Authorize), so a lock, demotion or reset takes effect at once.
type Session struct {
	Name  string
	Roles []Role
	auth  []byte
	pwAt  time.Time // the account's PasswordChangedAt at login
}

// Has reports whether the session's operator held role r at login. For decisions, use
// Station.Authorize, which reads the account as it is now.
func (s *Session) Has(r Role) bool {
	if s == nil {
		return false
	}
	for _, x := range s.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Authorize checks, as of now, that the session's operator still exists, is not locked
// by an administrator, has not had their password changed or reset since logging in,
// and holds one of roles (any role when none are given). A timed lockout after failed
// logins does not end open sessions (else anyone could lock out a working supervisor by
// typing wrong passwords under their name).
func (st *Station) Authorize(s *Session, roles ...Role) error {
	return st.store.View(func(tx *Tx) error { _, err := authorizeTx(tx, s, roles...); return err })
}

// authorizeTx is Authorize inside a transaction, so the check and the action it allows
// commit together (a concurrent lock or demotion makes the transaction conflict and
// run again, and then fail).
func authorizeTx(tx *Tx, s *Session, roles ...Role) (*Operator, error) {
	if s == nil {
		return nil, ErrForbidden
	}
	o, err := tx.Operator(s.Name)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w (%s no longer exists)", ErrForbidden, s.Name)
	}
	if err != nil {
		return nil, err
	}
	if o.Locked {
		return nil, fmt.Errorf("%w (%s was locked by an administrator)", &LockedError{ByAdmin: true}, s.Name)
	}
	if !o.PasswordChangedAt.Equal(s.pwAt) || o.MustChangePassword {
		return nil, ErrSessionExpired
	}
	if len(roles) == 0 {
		return o, nil
	}
	for _, r := range roles {
		if o.HasRole(r) {
			return o, nil
		}
	}
	names := make([]string, len(roles))
	for i, r := range roles {
		names[i] = string(r)
	}
	return nil, fmt.Errorf("%w (%s is not %s)", ErrForbidden, s.Name, strings.Join(names, " or "))
}

func checkPassword(pw string) error {
	if utf8.RuneCountInString(pw) < 8 || strings.TrimSpace(pw) == "" {
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
	name, err := CanonicalName(name)
	if err != nil {
		return err
	}
	o := &Operator{Name: name, Roles: []Role{RoleAdmin}, CreatedAt: st.cfg.now(), CreatedBy: "station"}
	if _, err := st.newCredentials(o, pw); err != nil {
		return err
	}
	code, rec, err := st.newRecoveryCode()
	if err != nil {
		return err
	}
	err = st.store.Update(func(tx *Tx) error {
		if len(tx.Operators()) > 0 {
			return ErrAlreadyInitialized
		}
		if err := tx.PutOperator(o); err != nil {
			return err
		}
		if err := tx.Audit("station", "station.init", "", "first administrator "+name); err != nil {
			return err
		}
		return putRecovery(tx, rec, "station")
	})
	if err == nil {
		st.recoveryCode = code
	}
	return err
}

// loginState is the failed-login count and timed lockout of one name, kept apart from
// the account (and for names without one, so lockouts do not reveal which exist).
type loginState struct {
	V           int       `json:"v"`
	Failures    int       `json:"failures"` // since the last lockout or success
	Lockouts    int       `json:"lockouts"` // lockouts since the last success
	LockedUntil time.Time `json:"locked_until,omitempty"`
}

const pLoginState = "ls/"

func (tx *Tx) loginState(name string) (loginState, error) {
	var s loginState
	err := tx.getJSON(pLoginState+name, &s)
	if errors.Is(err, ErrNotFound) {
		return loginState{}, nil
	}
	return s, err
}

func (tx *Tx) putLoginState(name string, s loginState) error {
	if s.Failures == 0 && s.Lockouts == 0 && s.LockedUntil.IsZero() {
		if b, err := tx.getBytes(pLoginState + name); err != nil || b == nil {
			return err
		}
		return tx.del(pLoginState + name)
	}
	s.V = recordVersion
	return tx.putJSON(pLoginState+name, s)
}

// Login checks a password. After Settings.LockoutThreshold consecutive failures for a
// name, logins with it are refused for LockoutSteps (1, 5, 15, 60 minutes, growing
// with each lockout): a *LockedError. Unknown names behave exactly like known ones
// (same error, same lockouts, same cost). A one-time password from a reset gives
// ErrPasswordChangeRequired. A supervisor without an approval key (just promoted, or
// after a reset) gets one here, authorized by their password.
func (st *Station) Login(name, pw string) (*Session, error) {
	s, o, err := st.login(name, pw)
	if err != nil {
		return nil, err
	}
	if o.MustChangePassword {
		return nil, ErrPasswordChangeRequired
	}
	if err := st.ensureApprovalKey(s, o); err != nil {
		return nil, err
	}
	return s, nil
}

func (st *Station) login(typed, pw string) (*Session, *Operator, error) {
	var key string
	var o *Operator
	var state loginState
	err := st.store.View(func(tx *Tx) (err error) {
		key, o, err = tx.loginName(typed)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if key != "" {
			state, err = tx.loginState(key)
		}
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	now := st.cfg.now()
	if state.LockedUntil.After(now) {
		return nil, nil, &LockedError{Until: state.LockedUntil}
	}
	var ok bool
	var auth []byte
	if o != nil {
		var verifier []byte
		verifier, auth = derive(pw, o.Salt, o.KDF)
		ok = subtle.ConstantTimeCompare(verifier, o.Verifier) == 1
	} else {
		// Spend the same time as a real check so names cannot be probed by timing.
		derive(pw, make([]byte, 16), st.cfg.KDF)
	}
	if key == "" {
		return nil, nil, ErrBadPassword // not a name anyone can have: nothing to count
	}
	var result error
	err = st.store.Update(func(tx *Tx) error {
		result = nil
		s, err := tx.loginState(key)
		if err != nil {
			return err
		}
		set, err := tx.Settings()
		if err != nil {
			return err
		}
		if ok {
			cur, err := tx.Operator(key)
			if err != nil {
				return err
			}
			if cur.Locked {
				result = &LockedError{ByAdmin: true}
				return tx.Audit(key, "user.login-refused", key, "locked by an administrator")
			}
			cur.LastLoginAt = now
			cur.Failures = 0
			if err := tx.PutOperator(cur); err != nil {
				return err
			}
			if err := tx.putLoginState(key, loginState{}); err != nil {
				return err
			}
			o = cur
			return tx.Audit(key, "user.login", key, "")
		}
		s.Failures++
		result = ErrBadPassword
		if err := tx.Audit(key, "user.login-failed", key, fmt.Sprintf("failure %d", s.Failures)); err != nil {
			return err
		}
		if s.Failures >= set.LockoutThreshold {
			d := LockoutSteps[min(s.Lockouts, len(LockoutSteps)-1)]
			s.Failures, s.Lockouts, s.LockedUntil = 0, s.Lockouts+1, now.Add(d)
			result = &LockedError{Until: s.LockedUntil, Failed: true}
			if err := tx.Audit("station", "user.lock", key, fmt.Sprintf("%s after %d failed logins", d, set.LockoutThreshold)); err != nil {
				return err
			}
		}
		return tx.putLoginState(key, s)
	})
	if err != nil {
		return nil, nil, err
	}
	if result != nil {
		return nil, nil, result
	}
	return &Session{Name: o.Name, Roles: append([]Role(nil), o.Roles...), auth: auth, pwAt: o.PasswordChangedAt}, o, nil
}

// AddUser creates an operator; admin must be an administrator's session. The name is
// stored in its canonical form (CanonicalName). A supervisor gets a TPM approval key
// authorized by a value derived from the password.
func (st *Station) AddUser(admin *Session, name string, roles []Role, pw string) error {
	if err := st.Authorize(admin, RoleAdmin); err != nil {
		return err
	}
	name, err := CanonicalName(name)
	if err != nil {
		return err
	}
	if err := validRoles(roles); err != nil {
		return err
	}
	now := st.cfg.now()
	o := &Operator{Name: name, Roles: append([]Role(nil), roles...), CreatedAt: now, CreatedBy: admin.Name}
	auth, err := st.newCredentials(o, pw)
	if err != nil {
		return err
	}
	if o.HasRole(RoleSupervisor) {
		if err := st.newApprovalKey(o, auth, admin.Name, now); err != nil {
			return err
		}
	}
	return st.store.Update(func(tx *Tx) error {
		if _, err := authorizeTx(tx, admin, RoleAdmin); err != nil {
			return err
		}
		if _, err := tx.Operator(name); err == nil {
			return fmt.Errorf("%w: %s", ErrUserExists, name)
		}
		if err := tx.PutOperator(o); err != nil {
			return err
		}
		return tx.Audit(admin.Name, "user.add", name, fmt.Sprintf("roles %v", roles))
	})
}

// Users lists the operators (without their password material), with the timed
// lockout of each in LockedUntil and the failed logins since the last lockout in
// Failures.
func (st *Station) Users() ([]Operator, error) {
	var out []Operator
	now := st.cfg.now()
	err := st.store.View(func(tx *Tx) error {
		for _, n := range tx.Operators() {
			o, err := tx.Operator(n)
			if err != nil {
				return err
			}
			s, err := tx.loginState(n)
			if err != nil {
				return err
			}
			o.Failures = s.Failures
			if s.LockedUntil.After(now) {
				o.LockedUntil = s.LockedUntil
			}
			o.Salt, o.Verifier, o.ApprovalKey = nil, nil, nil
			out = append(out, *o)
		}
		return nil
	})
	return out, err
}

// SetLocked locks or unlocks an account (unlocking also ends a timed lockout and
// clears failed logins). A locked operator's open sessions stop working at once.
func (st *Station) SetLocked(admin *Session, name string, locked bool) error {
	action := "user.unlock"
	if locked {
		action = "user.lock"
	}
	return st.updateOperator(admin, action, name, "", func(tx *Tx, o *Operator) error {
		if locked && o.Name == admin.Name {
			return fmt.Errorf("%w: an administrator cannot lock their own account", ErrForbidden)
		}
		o.Locked = locked
		if !locked {
			o.Failures = 0
			return tx.putLoginState(o.Name, loginState{})
		}
		return nil
	})
}

// updateOperator applies edit to the stored operator name and audits it as admin's
// action, in one durable transaction that re-checks admin is an administrator.
func (st *Station) updateOperator(admin *Session, action, name, detail string, edit func(*Tx, *Operator) error) error {
	return st.store.Update(func(tx *Tx) error {
		if _, err := authorizeTx(tx, admin, RoleAdmin); err != nil {
			return err
		}
		_, o, err := tx.loginName(name) // "Sam" finds sam
		if err != nil {
			return err
		}
		if err := edit(tx, o); err != nil {
			return err
		}
		if err := tx.PutOperator(o); err != nil {
			return err
		}
		return tx.Audit(admin.Name, action, o.Name, detail)
	})
}

// takeCredentials copies the password and approval-key material newCredentials (and a
// new or re-wrapped approval key) set on from.
func (o *Operator) takeCredentials(from *Operator) {
	o.KDF, o.Salt, o.Verifier, o.ApprovalKey, o.PasswordChangedAt = from.KDF, from.Salt, from.Verifier, from.ApprovalKey, from.PasswordChangedAt
	o.MustChangePassword, o.KeyHistory = from.MustChangePassword, from.KeyHistory
}

// ChangePassword changes an operator's password, re-wrapping a supervisor's approval
// key for the new one. The old password (or the one-time password of a reset) must be
// right. After a reset a supervisor has no approval key: a new one is made here, under
// the password only they know, and recorded in their key history.
func (st *Station) ChangePassword(name, oldPW, newPW string) error {
	sess, o, err := st.login(name, oldPW)
	if err != nil {
		return err
	}
	if err := checkPassword(newPW); err != nil {
		return err
	}
	if newPW == oldPW {
		return fmt.Errorf("%w: choose a password different from the old one", ErrWeakPassword)
	}
	auth, err := st.newCredentials(o, newPW)
	if err != nil {
		return err
	}
	o.MustChangePassword = false
	switch {
	case o.ApprovalKey != nil:
		if o.ApprovalKey, err = st.tpm.ChangeKeyAuth(o.ApprovalKey, sess.auth, auth); err != nil {
			return err
		}
	case o.HasRole(RoleSupervisor):
		if err := st.newApprovalKey(o, auth, o.Name, st.cfg.now()); err != nil {
			return err
		}
	}
	return st.store.Update(func(tx *Tx) error {
		cur, err := tx.Operator(o.Name)
		if err != nil {
			return err
		}
		if !cur.PasswordChangedAt.Equal(sess.pwAt) {
			return ErrSessionExpired // reset or changed meanwhile
		}
		cur.takeCredentials(o)
		if err := tx.PutOperator(cur); err != nil {
			return err
		}
		return tx.Audit(o.Name, "user.passwd", o.Name, "")
	})
}
