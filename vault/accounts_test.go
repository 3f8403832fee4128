package vault

import (
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"enrollstation/internal/tpmtest"
)

// fakeClock is an injectable Config.Now: tests move time instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestLoginLockout: five wrong passwords lock a name for minutes, not for good; the
// lockouts grow (1, 5, 15, 60 minutes); unknown names get exactly the same answers.
func TestLoginLockout(t *testing.T) {
	clock := &fakeClock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{Now: clock.Now})
	people(t, st)
	for i := 1; i < 5; i++ {
		if _, err := st.Login("clara", "wrong-password"); !errors.Is(err, ErrBadPassword) || errors.Is(err, ErrAccountLocked) {
			t.Fatalf("failure %d: %v, want ErrBadPassword", i, err)
		}
	}
	// A success before the threshold resets the count.
	login(t, st, "clara", "clara-password")
	fail5 := func(name string) *LockedError {
		t.Helper()
		var le *LockedError
		for i := 1; i <= 5; i++ {
			_, err := st.Login(name, "wrong-password")
			if i < 5 && errors.Is(err, ErrAccountLocked) {
				t.Fatalf("%s locked after %d failures", name, i)
			}
			if i == 5 && (!errors.As(err, &le) || !errors.Is(err, ErrBadPassword)) {
				t.Fatalf("%s failure 5: %v, want a LockedError", name, err)
			}
		}
		return le
	}
	for _, want := range LockoutSteps {
		le := fail5("clara")
		if got := le.Until.Sub(clock.Now()); got != want {
			t.Fatalf("lockout of %v, want %v", got, want)
		}
		if _, err := st.Login("clara", "clara-password"); !errors.Is(err, ErrAccountLocked) {
			t.Fatalf("right password during the lockout: %v", err)
		}
		clock.Add(want - time.Second)
		if _, err := st.Login("clara", "clara-password"); !errors.Is(err, ErrAccountLocked) {
			t.Fatalf("right password a second before the lockout ends: %v", err)
		}
		clock.Add(time.Second)
	}
	// The longest lockout repeats; a success afterwards starts again at one minute.
	if le := fail5("clara"); le.Until.Sub(clock.Now()) != time.Hour {
		t.Fatalf("fifth lockout until %v", le.Until)
	}
	clock.Add(time.Hour)
	login(t, st, "clara", "clara-password")
	if le := fail5("clara"); le.Until.Sub(clock.Now()) != time.Minute {
		t.Fatalf("lockout after a success: until %v", le.Until)
	}

	// A name nobody has: the same errors, the same lockout.
	for i := 1; i < 5; i++ {
		if _, err := st.Login("nobody", "whatever-pw"); !errors.Is(err, ErrBadPassword) || errors.Is(err, ErrAccountLocked) {
			t.Fatalf("unknown user, failure %d: %v", i, err)
		}
	}
	if _, err := st.Login("nobody", "whatever-pw"); !errors.Is(err, ErrAccountLocked) || !errors.Is(err, ErrBadPassword) {
		t.Fatalf("unknown user, failure 5: %v", err)
	}
	_, e1 := st.Login("clara", "wrong-password")
	_, e2 := st.Login("nobody", "wrong-password")
	if e1.Error() != e2.Error() {
		t.Fatalf("locked known and unknown names answer differently:\n%v\n%v", e1, e2)
	}

	// An administrator can end a lockout at once.
	admin := login(t, st, "root", adminPW)
	if err := st.SetLocked(admin, "clara", false); err != nil {
		t.Fatal(err)
	}
	login(t, st, "clara", "clara-password")
	if err := st.SetLocked(admin, "root", true); !errors.Is(err, ErrForbidden) {
		t.Fatalf("admin locking themself: %v", err)
	}
	users, err := st.Users()
	if err != nil || len(users) != 5 {
		t.Fatalf("Users = %d, %v", len(users), err)
	}
	for _, u := range users {
		if u.Verifier != nil || u.Salt != nil {
			t.Fatal("Users leaks password material")
		}
	}
}

func TestRoles(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	clerk, sup, _ := people(t, st)
	tech := login(t, st, "tom", "tom-password")
	admin := login(t, st, "root", adminPW)

	if err := st.AddUser(clerk, "eve", []Role{RoleAdmin}, "eve-password"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("clerk adding a user: %v", err)
	}
	if err := st.AddUser(admin, "eve", []Role{"superuser"}, "eve-password"); err == nil {
		t.Fatal("unknown role accepted")
	}
	if err := st.AddUser(admin, "eve", []Role{RoleClerk}, "short"); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("weak password: %v", err)
	}
	if err := st.AddUser(admin, "clara", []Role{RoleClerk}, "another-password"); !errors.Is(err, ErrUserExists) {
		t.Fatalf("duplicate user: %v", err)
	}
	if err := st.AddUser(admin, "bad/name", []Role{RoleClerk}, "another-password"); !errors.Is(err, ErrBadName) {
		t.Fatalf("bad name: %v", err)
	}

	e := testEnrollment(t, "Doe", []byte("jpeg"))
	if err := st.SaveEnrollment(tech, e); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician capturing: %v", err)
	}
	if err := st.SaveEnrollment(sup, e); !errors.Is(err, ErrForbidden) {
		t.Fatalf("supervisor without clerk role capturing: %v", err)
	}
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(clerk, e.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("clerk approving: %v", err)
	}
	if err := st.Reject(tech, e.ID, "blurry"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("technician rejecting: %v", err)
	}
	if err := st.MarkExported(clerk, "b", []string{e.ID}, 1, nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("clerk exporting: %v", err)
	}
	// Exporting needs approval first.
	if err := st.MarkExported(sup, "b", []string{e.ID}, 1, nil); !errors.Is(err, ErrNotInWorkflow) {
		t.Fatalf("exporting a pending enrollment: %v", err)
	}
}

func TestApprovalSignedAndNoSelfApproval(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	clerk, sup, supClerk := people(t, st)

	own := testEnrollment(t, "Doe", []byte("jpeg-own"))
	if err := st.SaveEnrollment(supClerk, own); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(supClerk, own.ID); !errors.Is(err, ErrSelfApproval) {
		t.Fatalf("self-approval: %v, want ErrSelfApproval", err)
	}
	// Another supervisor may approve it.
	if _, err := st.Approve(sup, own.ID); err != nil {
		t.Fatal(err)
	}

	e := testEnrollment(t, "Roe", []byte("jpeg-roe"))
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	got, err := st.Approve(supClerk, e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != StatusApproved || got.Approval.Supervisor != "sue" {
		t.Fatalf("approved: %+v", got.Approval)
	}
	if err := VerifyApproval(got); err != nil {
		t.Fatal(err)
	}
	pub, err := st.SupervisorKey("sue")
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	if string(der) != string(got.Approval.PublicKey) {
		t.Fatal("approval names another key than the supervisor's")
	}
	// Any change to the approved content breaks the approval.
	for name, change := range map[string]func(e *Enrollment){
		"surname":  func(e *Enrollment) { e.Demographics.Surname = "Other" },
		"portrait": func(e *Enrollment) { e.Portrait = []byte("other jpeg") },
		"template": func(e *Enrollment) { e.Template = e.Template[1:] },
	} {
		c := *got
		change(&c)
		if err := VerifyApproval(&c); !errors.Is(err, ErrBadApprovalSig) {
			t.Errorf("%s changed: %v, want ErrBadApprovalSig", name, err)
		}
	}
	if _, err := st.Approve(sup, e.ID); !errors.Is(err, ErrNotInWorkflow) {
		t.Fatalf("approving twice: %v", err)
	}
	if _, err := st.Approve(sup, "no-such-id"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("approving a missing enrollment: %v", err)
	}

	// After a password change the approval key follows the new password.
	if err := st.ChangePassword("sam", "sam-password", "sam-new-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Login("sam", "sam-password"); !errors.Is(err, ErrBadPassword) {
		t.Fatalf("old password still works: %v", err)
	}
	sam := login(t, st, "sam", "sam-new-password")
	e2 := testEnrollment(t, "Poe", []byte("jpeg-poe"))
	if err := st.SaveEnrollment(clerk, e2); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(sam, e2.ID); err != nil {
		t.Fatalf("approving after password change: %v", err)
	}
	// A stale session (old password) can no longer approve: refused before the TPM.
	e3 := testEnrollment(t, "Moe", []byte("jpeg-moe"))
	if err := st.SaveEnrollment(clerk, e3); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(sup, e3.ID); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("approving with a stale session: %v, want ErrSessionExpired", err)
	}

	// The audit log records the approvals but no demographics.
	rep, err := st.VerifyAudit()
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries == 0 {
		t.Fatal("no audit entries")
	}
	err = st.Store().View(func(tx *Tx) error {
		entries, err := tx.AuditEntries(1, 0)
		for _, a := range entries {
			line := a.Actor + a.Action + a.Object + a.Detail
			for _, s := range []string{"Doe", "Roe", "Poe", "Zenobia"} {
				if strings.Contains(line, s) {
					t.Errorf("audit entry %d mentions %q", a.Seq, s)
				}
			}
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestWorkflowTransitions(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	clerk, sup, _ := people(t, st)
	e := testEnrollment(t, "Doe", []byte("jpeg"))
	e.Status = StatusDraft
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(sup, e.ID); !errors.Is(err, ErrNotInWorkflow) {
		t.Fatalf("approving a draft: %v", err)
	}
	e.Status = StatusPending
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	if err := st.Reject(sup, e.ID, "eyes closed"); err != nil {
		t.Fatal(err)
	}
	// Back to draft for a new capture, then pending again.
	e.Status = StatusDraft
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	err := st.Store().Update(func(tx *Tx) error {
		cur, err := tx.EnrollmentMeta(e.ID)
		if err != nil {
			return err
		}
		cur.Status = StatusExported
		return tx.PutEnrollment(cur)
	})
	if !errors.Is(err, ErrBadTransition) {
		t.Fatalf("draft → exported: %v, want ErrBadTransition", err)
	}
	st.Store().View(func(tx *Tx) error {
		if ids := tx.EnrollmentsByStatus(StatusDraft); len(ids) != 1 || ids[0] != e.ID {
			t.Errorf("draft index %v", ids)
		}
		if ids := tx.EnrollmentsByStatus(StatusRejected); len(ids) != 0 {
			t.Errorf("rejected index %v", ids)
		}
		if ids := tx.EnrollmentsByDay(e.CreatedAt); len(ids) != 1 {
			t.Errorf("day index %v", ids)
		}
		return nil
	})
}
