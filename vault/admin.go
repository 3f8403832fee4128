package vault

import (
	"fmt"
	"slices"
)

// ResetPassword sets a new password for an operator who has forgotten theirs, as an
// administrator. A supervisor's approval key is authorized by the old password, which
// nobody knows any more, so they get a new approval key; earlier approvals still verify
// because each carries the public key that signed it. The account is unlocked.
func (st *Station) ResetPassword(admin *Session, name, newPW string) error {
	if err := admin.require(RoleAdmin); err != nil {
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
	if o.HasRole(RoleSupervisor) {
		if o.ApprovalKey, err = st.tpm.CreateSigningKey(auth); err != nil {
			return err
		}
	}
	return st.updateOperator(admin.Name, "user.reset-password", name, "", func(cur *Operator) {
		cur.takeCredentials(o)
		cur.Locked, cur.Failures = false, 0
	})
}

// SetRoles changes an operator's roles, as an administrator. Making someone a
// supervisor who has no approval key needs a new password for them (newPW), because
// the key's authorization derives from it; otherwise newPW is ignored and may be "".
// An administrator cannot remove their own admin role (the station would be left
// without one).
func (st *Station) SetRoles(admin *Session, name string, roles []Role, newPW string) error {
	if err := admin.require(RoleAdmin); err != nil {
		return err
	}
	if err := validRoles(roles); err != nil {
		return err
	}
	if name == admin.Name && !slices.Contains(roles, RoleAdmin) {
		return fmt.Errorf("%w: an administrator cannot remove their own admin role", ErrForbidden)
	}
	var o *Operator
	if err := st.store.View(func(tx *Tx) (err error) { o, err = tx.Operator(name); return err }); err != nil {
		return err
	}
	o.Roles = append([]Role(nil), roles...)
	if o.HasRole(RoleSupervisor) && o.ApprovalKey == nil {
		if newPW == "" {
			return fmt.Errorf("%w: a new supervisor needs a new password (it protects their approval key)", ErrInvalid)
		}
		auth, err := st.newCredentials(o, newPW)
		if err != nil {
			return err
		}
		if o.ApprovalKey, err = st.tpm.CreateSigningKey(auth); err != nil {
			return err
		}
	}
	return st.updateOperator(admin.Name, "user.roles", name, fmt.Sprintf("roles %v", roles), func(cur *Operator) {
		cur.Roles = o.Roles
		cur.takeCredentials(o)
	})
}

// SignCheckpoint signs the current head of the audit log with the station key and
// returns the checkpoint (nil when the log is empty), e.g. to carry it in a bundle.
func (st *Station) SignCheckpoint() (*AuditCheckpoint, error) {
	return st.anchoredUpdate(nil)
}
