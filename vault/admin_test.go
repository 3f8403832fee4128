package vault

import (
	"errors"
	"testing"

	"enrollstation/internal/tpmtest"
)

func TestAdminResetPasswordAndRoles(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	clerk, _, _ := people(t, st)
	admin := login(t, st, "root", adminPW)

	if err := st.ResetPassword(clerk, "sam", "new-sam-password"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("reset by a clerk: %v, want ErrForbidden", err)
	}
	if err := st.ResetPassword(admin, "sam", "short"); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("weak password: %v", err)
	}
	if err := st.ResetPassword(admin, "nobody", "whatever-pw"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	// A reset supervisor can approve with the new password (new approval key).
	e := testEnrollment(t, "Reset", []byte("portrait"))
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLocked(admin, "sam", true); err != nil {
		t.Fatal(err)
	}
	if err := st.ResetPassword(admin, "sam", "new-sam-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Login("sam", "sam-password"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("old password after reset: %v", err)
	}
	sam := login(t, st, "sam", "new-sam-password") // also proves the reset unlocked the account
	got, err := st.Approve(sam, e.ID)
	if err != nil {
		t.Fatalf("approve after reset: %v", err)
	}
	if err := VerifyApproval(got); err != nil {
		t.Fatal(err)
	}

	// Roles: a clerk promoted to supervisor needs a new password for the approval key.
	if err := st.SetRoles(admin, "clara", []Role{RoleClerk, RoleSupervisor}, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("promotion without a password: %v, want ErrInvalid", err)
	}
	if err := st.SetRoles(admin, "clara", []Role{RoleClerk, RoleSupervisor}, "clara-new-password"); err != nil {
		t.Fatal(err)
	}
	clara := login(t, st, "clara", "clara-new-password")
	if !clara.Has(RoleSupervisor) {
		t.Fatalf("roles after SetRoles: %v", clara.Roles)
	}
	if _, err := st.SupervisorKey("clara"); err != nil {
		t.Fatalf("promoted supervisor has no approval key: %v", err)
	}
	if err := st.SetRoles(admin, "root", []Role{RoleClerk}, ""); !errors.Is(err, ErrForbidden) {
		t.Fatalf("admin dropping own admin role: %v", err)
	}
	if err := st.SetRoles(admin, "tom", nil, ""); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no roles: %v", err)
	}

	cp, err := st.SignCheckpoint()
	if err != nil || cp == nil || cp.Seq == 0 || len(cp.Signature) == 0 {
		t.Fatalf("SignCheckpoint: %+v, %v", cp, err)
	}
	rep, err := st.VerifyAudit()
	if err != nil || rep.LastSigned != cp.Seq {
		t.Fatalf("audit after checkpoint: %+v %v", rep, err)
	}
}

// TestAuthHasNoZeroByte guards the go-tpm workaround in derive: an approval key's auth
// value with a zero byte fails every HMAC session (about one password in eight).
func TestAuthHasNoZeroByte(t *testing.T) {
	salt := make([]byte, 16)
	for i := 0; i < 300; i++ {
		salt[0], salt[1] = byte(i), byte(i>>8)
		_, auth := derive("some-password", salt, testKDF)
		for _, b := range auth {
			if b == 0 {
				t.Fatalf("salt %d: auth %x holds a zero byte", i, auth)
			}
		}
	}
}
