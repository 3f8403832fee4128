package vault

import (
	"crypto/rand"
	"fmt"
	"slices"
	"strings"
)

// otpAlphabet has no look-alike characters (0/O, 1/I/L), for reading a one-time
// password aloud or off a screen.
const otpAlphabet = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"

// newOneTimePassword returns 12 random characters of otpAlphabet (about 59 bits) in
// groups of four: XXXX-XXXX-XXXX.
func newOneTimePassword() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	var s strings.Builder
	for i, c := range b {
		if i > 0 && i%4 == 0 {
			s.WriteByte('-')
		}
		s.WriteByte(otpAlphabet[int(c)%len(otpAlphabet)])
	}
	return s.String(), nil
}

// ResetPassword gives an operator who has forgotten their password a one-time password
// (returned, to hand to them), as an administrator. It is good only for choosing a new
// password (Login says ErrPasswordChangeRequired; ChangePassword takes it), and it
// unlocks the account. A supervisor's approval key is retired at once, visibly (key
// history, reason "password reset", replaced by this administrator): the new key is
// made when the supervisor chooses their own password, so the administrator who knew
// the one-time password never holds a key that signs as them. Earlier approvals still
// verify against the retired key.
func (st *Station) ResetPassword(admin *Session, name string) (string, error) {
	if err := st.Authorize(admin, RoleAdmin); err != nil {
		return "", err
	}
	if name == admin.Name {
		return "", fmt.Errorf("%w: change your own password instead of resetting it", ErrForbidden)
	}
	otp, err := newOneTimePassword()
	if err != nil {
		return "", err
	}
	err = st.store.Update(func(tx *Tx) error {
		if _, err := authorizeTx(tx, admin, RoleAdmin); err != nil {
			return err
		}
		_, o, err := tx.loginName(name)
		if err != nil {
			return err
		}
		if o.Name == admin.Name {
			return fmt.Errorf("%w: change your own password instead of resetting it", ErrForbidden)
		}
		if _, err := st.newCredentials(o, otp); err != nil {
			return err
		}
		detail := "one-time password issued"
		if o.ApprovalKey != nil {
			detail += "; approval key retired"
		}
		o.MustChangePassword, o.Locked, o.Failures = true, false, 0
		if err := st.retireApprovalKey(o, admin.Name, KeyReasonPasswordReset, st.cfg.now()); err != nil {
			return err
		}
		if err := tx.putLoginState(o.Name, loginState{}); err != nil {
			return err
		}
		if err := tx.PutOperator(o); err != nil {
			return err
		}
		return tx.Audit(admin.Name, "user.reset-password", o.Name, detail)
	})
	if err != nil {
		return "", err
	}
	return otp, nil
}

// SetRoles changes an operator's roles, as an administrator. Taking the supervisor role
// away revokes the approval key (key history, reason "revoked"); giving it makes a new
// key at the operator's next login, under their own password. An administrator cannot
// remove their own admin role (the station would be left without one).
func (st *Station) SetRoles(admin *Session, name string, roles []Role) error {
	if err := validRoles(roles); err != nil {
		return err
	}
	return st.updateOperator(admin, "user.roles", name, fmt.Sprintf("roles %v", roles), func(tx *Tx, o *Operator) error {
		if o.Name == admin.Name && !slices.Contains(roles, RoleAdmin) {
			return fmt.Errorf("%w: an administrator cannot remove their own admin role", ErrForbidden)
		}
		o.Roles = append([]Role(nil), roles...)
		if !o.HasRole(RoleSupervisor) {
			return st.retireApprovalKey(o, admin.Name, KeyReasonRevoked, st.cfg.now())
		}
		return nil
	})
}

// ensureApprovalKey gives a supervisor who has none (promoted, or after a reset) a new
// approval key under their password, right after they log in.
func (st *Station) ensureApprovalKey(s *Session, o *Operator) error {
	if !o.HasRole(RoleSupervisor) || o.ApprovalKey != nil {
		return nil
	}
	if err := st.newApprovalKey(o, s.auth, o.Name, st.cfg.now()); err != nil {
		return err
	}
	return st.store.Update(func(tx *Tx) error {
		cur, err := tx.Operator(o.Name)
		if err != nil {
			return err
		}
		if !cur.PasswordChangedAt.Equal(s.pwAt) || cur.ApprovalKey != nil || !cur.HasRole(RoleSupervisor) {
			return nil // changed meanwhile; the next login tries again
		}
		cur.ApprovalKey, cur.KeyHistory = o.ApprovalKey, o.KeyHistory
		if err := tx.PutOperator(cur); err != nil {
			return err
		}
		return tx.Audit(o.Name, "user.approval-key", o.Name, "new approval key")
	})
}

// SignCheckpoint signs the current head of the audit log with the station key and
// returns the checkpoint (nil when the log is empty), e.g. to carry it in a bundle.
func (st *Station) SignCheckpoint() (*AuditCheckpoint, error) {
	return st.anchoredUpdate(nil)
}
