package vault

import (
	"errors"
	"strings"
	"testing"

	"enrollstation/internal/tpmtest"
)

func TestCanonicalName(t *testing.T) {
	good := map[string]string{
		"sam":        "sam",
		"Sam":        "sam",
		"ｓａｍ":        "sam", // full-width
		"anne-marie": "anne-marie",
		"j.doe_2":    "j.doe_2",
		"王小明":        "王小明",
		"Иван":       "иван",
		"たなか太郎":      "たなか太郎", // Han with Hiragana is one writing system
		"Ωμέγα":      "ωμέγα",
	}
	for in, want := range good {
		got, err := CanonicalName(in)
		if err != nil || got != want {
			t.Errorf("CanonicalName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := map[string]string{
		"cyrillic s":         "\u0455am", // ѕam
		"greek o":            "b\u03bfb",
		"escape code":        "sam\x1b[31m",
		"zero-width space":   "sa\u200bm",
		"zero-width joiner":  "sa\u200dm",
		"RTL override":       "sam\u202etxt.exe",
		"RTL isolate":        "\u2067sam",
		"bidi mark":          "sam\u200f",
		"space":              "sam smith",
		"only spaces":        "   ",
		"slash":              "a/b",
		"NUL":                "sa\x00m",
		"newline":            "sam\nroot",
		"soft hyphen":        "sa\u00adm",
		"empty":              "",
		"too long":           strings.Repeat("a", 65),
		"Latin with Han":     "sam王",
		"punctuation":        "sam;rm",
		"combining overlay":  "sa\u0338m",
		"private use":        "sam\ue000",
		"tag characters":     "sam\U000e0041",
		"variation selector": "sam\ufe0f",
	}
	for what, in := range bad {
		if got, err := CanonicalName(in); !errors.Is(err, ErrBadName) {
			t.Errorf("%s: CanonicalName(%q) = %q, %v; want ErrBadName", what, in, got, err)
		} else if strings.Contains(err.Error(), in) && in != "" {
			t.Errorf("%s: the error repeats the name: %v", what, err)
		}
	}
}

// TestDeceptiveOperatorNames: AddUser refuses look-alike, invisible and direction
// characters, and stores names canonically so "Sam" cannot sit beside "sam".
func TestDeceptiveOperatorNames(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	people(t, st)
	admin := login(t, st, "root", adminPW)
	for _, name := range []string{"\u0455am", "sa\u200bm", "sam\u202e", "sam\x1b[2J", "\u2067sam"} {
		if err := st.AddUser(admin, name, []Role{RoleClerk}, "mallory-password"); !errors.Is(err, ErrBadName) {
			t.Errorf("AddUser(%q): %v, want ErrBadName", name, err)
		}
	}
	if err := st.AddUser(admin, "SAM", []Role{RoleClerk}, "mallory-password"); !errors.Is(err, ErrUserExists) {
		t.Fatalf("AddUser(SAM) beside sam: %v, want ErrUserExists", err)
	}
	if err := st.AddUser(admin, "Nina", []Role{RoleClerk}, "nina-password"); err != nil {
		t.Fatal(err)
	}
	s := login(t, st, "NINA", "nina-password")
	if s.Name != "nina" {
		t.Fatalf("session name %q, want the canonical nina", s.Name)
	}
	// Administrators' commands find accounts as typed, and the self-checks hold.
	if err := st.SetLocked(admin, "Nina", true); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLocked(admin, "ROOT", true); !errors.Is(err, ErrForbidden) {
		t.Fatalf("admin locking themself as ROOT: %v", err)
	}
	if err := st.SetRoles(admin, "Root", []Role{RoleClerk}); !errors.Is(err, ErrForbidden) {
		t.Fatalf("admin dropping own admin role as Root: %v", err)
	}
	if err := st.ChangePassword("sam", "sam-password", "        "); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("a password of eight spaces: %v", err)
	}
	if err := st.AddUser(admin, "olga", []Role{RoleClerk}, "\t \t \t \t "); !errors.Is(err, ErrWeakPassword) {
		t.Fatalf("a password of blanks: %v", err)
	}
}

// TestRecoveryCode: the code printed once at provisioning unlocks the last
// administrator, locked by failed logins, once; a second use and a wrong code are
// refused; every attempt is audited; only a hash is stored.
func TestRecoveryCode(t *testing.T) {
	clock := &fakeClock{}
	clock.Add(1e9 * 3600 * 24 * 365 * 56)
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{Now: clock.Now})
	code := st.TakeRecoveryCode()
	if len(code) < 32 || st.TakeRecoveryCode() != "" {
		t.Fatalf("recovery code %q (a second take must give nothing)", code)
	}
	var stored []byte
	if err := st.Store().View(func(tx *Tx) (err error) { stored, err = tx.getBytes(kRecovery); return err }); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(stored), normalizeRecoveryCode(code)) || strings.Contains(string(stored), code) {
		t.Fatal("the recovery code is stored in the clear")
	}
	for i := 0; i < 5; i++ {
		st.Login("root", "forgotten-password")
	}
	if _, err := st.Login("root", adminPW); !errors.Is(err, ErrAccountLocked) {
		t.Fatalf("root after five failures: %v", err)
	}
	if err := st.RecoverAdmin("root", "AAAA-BBBB-CCCC-DDDD-EEEE-FFFF-GGGG-HH", "recovered-password"); !errors.Is(err, ErrBadRecoveryCode) {
		t.Fatalf("wrong code: %v", err)
	}
	// Typed in lower case with spaces, as people copy codes.
	typed := strings.ToLower(strings.ReplaceAll(code, "-", " "))
	if err := st.RecoverAdmin("root", typed, "recovered-password"); err != nil {
		t.Fatalf("recovery: %v", err)
	}
	login(t, st, "root", "recovered-password") // the timed lockout is over too
	if err := st.RecoverAdmin("root", code, "another-password"); !errors.Is(err, ErrRecoveryCodeUsed) {
		t.Fatalf("second use: %v, want ErrRecoveryCodeUsed", err)
	}
	login(t, st, "root", "recovered-password")
	var actions []string
	st.Store().View(func(tx *Tx) error {
		es, err := tx.AuditEntries(1, 0)
		for _, e := range es {
			actions = append(actions, e.Action)
		}
		return err
	})
	all := strings.Join(actions, " ")
	if strings.Count(all, "station.recover-refused") != 2 || strings.Count(all, "station.recover ") != 1 || !strings.Contains(all, "station.recovery-code") {
		t.Fatalf("recovery not audited: %s", all)
	}
	// An administrator can issue a new code, which works once again.
	admin := login(t, st, "root", "recovered-password")
	code2, err := st.NewRecoveryCode(admin)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.RecoverAdmin("root", code2, "third-password"); err != nil {
		t.Fatal(err)
	}
}

// TestIssuerKeyTwoPeople: one person cannot change the issuer key; with another
// administrator or a supervisor it works, and the change is recorded for the manifest.
func TestIssuerKeyTwoPeople(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	clerk, sam, _ := people(t, st)
	admin := login(t, st, "root", adminPW)
	fp := func(b []byte) (string, error) {
		if !strings.HasPrefix(string(b), "KEY ") {
			return "", errors.New("not a key")
		}
		return "fp-" + string(b[4:]), nil
	}
	// The first key, at provisioning, takes one administrator.
	if _, err := st.SetIssuerKey(admin, nil, []byte("KEY one"), fp); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetIssuerKey(admin, nil, []byte("KEY two"), fp); !errors.Is(err, ErrSecondPersonRequired) {
		t.Fatalf("change by one person: %v, want ErrSecondPersonRequired", err)
	}
	if _, err := st.SetIssuerKey(admin, admin, []byte("KEY two"), fp); !errors.Is(err, ErrSecondPersonRequired) {
		t.Fatalf("the administrator as their own second: %v", err)
	}
	if _, err := st.SetIssuerKey(admin, clerk, []byte("KEY two"), fp); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a clerk as the second person: %v", err)
	}
	if _, err := st.SetIssuerKey(sam, admin, []byte("KEY two"), fp); !errors.Is(err, ErrForbidden) {
		t.Fatalf("a supervisor making the change: %v", err)
	}
	if _, err := st.SetIssuerKey(admin, sam, []byte("junk"), fp); err == nil {
		t.Fatal("a file that is not a key accepted")
	}
	seq, _ := st.BundleSeq()
	ch, err := st.SetIssuerKey(admin, sam, []byte("KEY two"), fp)
	if err != nil {
		t.Fatal(err)
	}
	if ch.OldFingerprint != "fp-one" || ch.NewFingerprint != "fp-two" || ch.By != "root" || ch.SecondApprover != "sam" || ch.SecondRole != string(RoleSupervisor) || ch.Seq != 2 {
		t.Fatalf("change %+v", ch)
	}
	all, err := st.IssuerKeyChangesSince(0)
	if err != nil || len(all) != 2 || all[0].OldFingerprint != "" || all[1] != *ch {
		t.Fatalf("IssuerKeyChangesSince(0) = %+v, %v", all, err)
	}
	next, err := st.IssuerKeyChangesSince(seq)
	if err != nil || len(next) != 2 {
		t.Fatalf("changes for the next bundle: %+v, %v", next, err)
	}
	// Once a bundle is numbered after the change, later bundles no longer need it.
	n, _ := st.NextBundleSeq()
	if later, _ := st.IssuerKeyChangesSince(n); len(later) != 0 {
		t.Fatalf("changes after bundle %d: %+v", n, later)
	}
	var s Settings
	st.Store().View(func(tx *Tx) (err error) { s, err = tx.Settings(); return err })
	if string(s.IssuerKey) != "KEY two" {
		t.Fatalf("issuer key %q", s.IssuerKey)
	}
	// A locked second person's session does not count.
	if err := st.SetLocked(admin, "sam", true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetIssuerKey(admin, sam, []byte("KEY three"), fp); !errors.Is(err, ErrAccountLocked) {
		t.Fatalf("a locked second person: %v", err)
	}
}

// TestOpenSessionsRechecked: a locked or demoted supervisor's open session cannot
// approve, reject or export; an administrator's cannot add users once demoted.
func TestOpenSessionsRechecked(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	clerk, sam, sue := people(t, st)
	admin := login(t, st, "root", adminPW)
	e := testEnrollment(t, "Open", []byte("jpeg-open"))
	if err := st.SaveEnrollment(clerk, e); err != nil {
		t.Fatal(err)
	}
	if err := st.SetLocked(admin, "sam", true); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(sam, e.ID); !errors.Is(err, ErrAccountLocked) {
		t.Fatalf("locked supervisor's open session approving: %v", err)
	}
	if err := st.Reject(sam, e.ID, "poor-photo"); !errors.Is(err, ErrAccountLocked) {
		t.Fatalf("locked supervisor's open session rejecting: %v", err)
	}
	if err := st.SetRoles(admin, "sue", []Role{RoleClerk}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Approve(sue, e.ID); !errors.Is(err, ErrForbidden) {
		t.Fatalf("demoted supervisor's open session approving: %v", err)
	}
	if err := st.MarkExported(sue, "b1", nil, 1, nil); !errors.Is(err, ErrForbidden) {
		t.Fatalf("demoted supervisor's open session exporting: %v", err)
	}
	got, _ := st.Enrollment(e.ID)
	if got.Status != StatusPending {
		t.Fatalf("status %s", got.Status)
	}
	// A second administrator, demoted, cannot act on an open session.
	if err := st.AddUser(admin, "ada", []Role{RoleAdmin}, "ada-password"); err != nil {
		t.Fatal(err)
	}
	ada := login(t, st, "ada", "ada-password")
	if err := st.SetRoles(admin, "ada", []Role{RoleClerk}); err != nil {
		t.Fatal(err)
	}
	if err := st.AddUser(ada, "eve", []Role{RoleAdmin}, "eve-password"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("demoted administrator adding a user: %v", err)
	}
	if _, err := st.ResetPassword(ada, "sam"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("demoted administrator resetting a password: %v", err)
	}
}

// TestClerkEditsOnlyOwnDrafts: through the API, not only the screen.
func TestClerkEditsOnlyOwnDrafts(t *testing.T) {
	st := initStation(t, tpmtest.Start(t), t.TempDir(), Config{})
	clara, _, sue := people(t, st)
	e := testEnrollment(t, "Draft", []byte("jpeg-draft"))
	e.Status = StatusDraft
	if err := st.SaveEnrollment(clara, e); err != nil {
		t.Fatal(err)
	}
	other, err := st.Enrollment(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	other.Demographics.Surname = "Changed"
	if err := st.SaveEnrollment(sue, other); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another clerk saving clara's draft: %v, want ErrForbidden", err)
	}
	other.CapturedBy = ""
	if err := st.SaveEnrollment(sue, other); !errors.Is(err, ErrForbidden) {
		t.Fatalf("another clerk saving clara's draft with CapturedBy cleared: %v", err)
	}
	got, _ := st.Enrollment(e.ID)
	if got.Demographics.Surname != "Draft" || got.CapturedBy != "clara" {
		t.Fatalf("the draft changed: %+v", got.Demographics)
	}
	// The owner still may.
	got.Demographics.Surname = "Edited"
	if err := st.SaveEnrollment(clara, got); err != nil {
		t.Fatal(err)
	}
}
