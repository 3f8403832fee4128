package vault

import (
	"errors"
	"testing"

	"enrollstation/internal/tpmtest"
)

func TestAdminResetPasswordAndRoles(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	clerk, sam0, _ := people(t, st)
	admin := login(t, st, "root", adminPW)
	oldKey, err := st.SupervisorKey("sam")
	if err != nil {
		t.Fatal(err)
	}

	if _, err := st.ResetPassword(clerk, "sam"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("reset by a clerk: %v, want ErrForbidden", err)
	}
	if _, err := st.ResetPassword(admin, "nobody"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
	e := testEnrollment(t, "Reset", []byte("portrait"))
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLocked(admin, "sam", true); err != nil {
		t.Fatal(err)
	}
	otp, err := st.ResetPassword(admin, "sam")
	if err != nil || len(otp) != 14 {
		t.Fatalf("reset: %q, %v", otp, err)
	}
	// sam's session from before the reset is over.
	if _, err := st.Approve(sam0, e.ID); err == nil {
		t.Fatal("a session from before the reset approved")
	}
	if _, err := st.Login("sam", "sam-password"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("old password after reset: %v", err)
	}
	// The one-time password only lets sam choose a new password (the reset unlocked the
	// account), and nobody holds an approval key for sam meanwhile: the administrator
	// who knows the one-time password cannot sign as sam.
	if _, err := st.Login("sam", otp); !errors.Is(err, ErrPasswordChangeRequired) {
		t.Fatalf("login with the one-time password: %v, want ErrPasswordChangeRequired", err)
	}
	if _, err := st.SupervisorKey("sam"); !errors.Is(err, ErrNoApprovalKey) {
		t.Fatalf("approval key after reset: %v, want ErrNoApprovalKey", err)
	}
	if err := st.ChangePassword("sam", otp, "        "); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("a password of spaces: %v", err)
	}
	if err := st.ChangePassword("sam", otp, "new-sam-password"); err != nil {
		t.Fatal(err)
	}
	if err := st.ChangePassword("sam", otp, "other-password"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("the one-time password used twice: %v", err)
	}
	sam := login(t, st, "sam", "new-sam-password")
	got, err := st.Approve(sam, e.ID)
	if err != nil {
		t.Fatalf("approve after reset: %v", err)
	}
	if err := VerifyApproval(got); err != nil {
		t.Fatal(err)
	}
	newKey, err := st.SupervisorKey("sam")
	if err != nil || newKey.Equal(oldKey) {
		t.Fatalf("approval key after the reset: %v (same as before: %v)", err, newKey != nil && newKey.Equal(oldKey))
	}
	// The replacement is visible in the key history.
	hist, err := st.SupervisorKeyHistory()
	if err != nil {
		t.Fatal(err)
	}
	var samKeys []SupervisorKey
	for _, k := range hist {
		if k.Supervisor == "sam" {
			samKeys = append(samKeys, k)
		}
	}
	if len(samKeys) != 2 || samKeys[0].KeyID != KeyID(oldKey) || samKeys[0].Reason != KeyReasonPasswordReset ||
		samKeys[0].ReplacedBy != "root" || samKeys[0].ReplacedAt.IsZero() ||
		samKeys[1].KeyID != KeyID(newKey) || !samKeys[1].ReplacedAt.IsZero() || samKeys[1].CreatedBy != "sam" {
		t.Fatalf("sam's key history: %+v", samKeys)
	}

	// Roles: a clerk promoted to supervisor gets an approval key at their next login,
	// under their own password.
	if err := st.SetRoles(admin, "clara", []Role{RoleClerk, RoleSupervisor}); err != nil {
		t.Fatal(err)
	}
	clara := login(t, st, "clara", "clara-password")
	if !clara.Has(RoleSupervisor) {
		t.Fatalf("roles after SetRoles: %v", clara.Roles)
	}
	if _, err := st.SupervisorKey("clara"); err != nil {
		t.Fatalf("promoted supervisor has no approval key: %v", err)
	}
	// Demotion revokes the key, visibly.
	if err := st.SetRoles(admin, "clara", []Role{RoleClerk}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SupervisorKey("clara"); !errors.Is(err, ErrNoApprovalKey) {
		t.Fatalf("demoted supervisor's key: %v", err)
	}
	hist, _ = st.SupervisorKeyHistory()
	revoked := false
	for _, k := range hist {
		revoked = revoked || (k.Supervisor == "clara" && k.Reason == KeyReasonRevoked && k.ReplacedBy == "root")
	}
	if !revoked {
		t.Fatalf("clara's revoked key is not in the history: %+v", hist)
	}
	if err := st.SetRoles(admin, "root", []Role{RoleClerk}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("admin dropping own admin role: %v", err)
	}
	if err := st.SetRoles(admin, "tom", nil); !errors.Is(err, ErrInvalid) {
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
