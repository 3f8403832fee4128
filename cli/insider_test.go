package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"enrollstation/enroll"
	"enrollstation/internal/testenv"
	"enrollstation/vault"
)

// insiderStation is a station made through the CLI on swtpm with root (admin), sam
// (supervisor) and clara, cleo (clerks); it returns the runner and the recovery code
// station init printed.
func insiderStation(t *testing.T) (run func(stdin string, args ...string) (string, string, int), data, code string) {
	t.Helper()
	data = t.TempDir()
	all := Commands()
	run = func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		args = append(args, "--data", data, "--tpm", "swtpm", "--password-stdin")
		c := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, all, testRoot)
		return out.String(), errb.String(), c
	}
	out, errs, c := run("root-password\n", "station", "init", "--admin", "root", "--name", "Counter 1")
	if c != 0 {
		t.Fatalf("init: %s%s", out, errs)
	}
	m := regexp.MustCompile(`RECOVERY CODE[^\n]*\n\s*\n\s+([A-Z2-7-]+)\n`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("station init printed no recovery code:\n%s", out)
	}
	for _, u := range []struct{ name, roles string }{{"sam", "supervisor"}, {"clara", "clerk"}} {
		if _, errs, c := run("root-password\n"+u.name+"-password\n", "user", "add", u.name, "--roles", u.roles, "--as", "root"); c != 0 {
			t.Fatalf("user add %s: %s", u.name, errs)
		}
	}
	return run, data, m[1]
}

// TestDataCommandsNeedLogin: every command that shows station data refuses to run
// without a login, and with a wrong password.
func TestDataCommandsNeedLogin(t *testing.T) {
	run, _, _ := insiderStation(t)
	cmds := [][]string{
		{"user", "list"}, {"batch", "list"}, {"station", "status"}, {"audit", "verify"},
		{"station", "pubkey"}, {"station", "purge"}, {"settings", "show"},
	}
	for i, c := range cmds {
		out, errs, code := run("", c...)
		if code != 2 || !strings.Contains(errs, "--as NAME is required") || out != "" {
			t.Errorf("%v without a login: exit %d, %q %q", c, code, out, errs)
		}
		who := []string{"root", "sam"}[i%2] // fewer than five failures each: no lockout
		out, errs, code = run("wrong-password\n", append(c, "--as", who)...)
		if code != 1 || !strings.Contains(errs, "wrong user name or password") || out != "" {
			t.Errorf("%v with a wrong password: exit %d, %q %q", c, code, out, errs)
		}
	}
	// A clerk may see the station's status but not the operators or the audit log.
	if _, errs, code := run("clara-password\n", "user", "list", "--as", "clara"); code != 1 || !strings.Contains(errs, "role") {
		t.Errorf("user list as a clerk: exit %d %q", code, errs)
	}
	if _, errs, code := run("clara-password\n", "station", "status", "--as", "clara"); code != 0 {
		t.Errorf("station status as a clerk: exit %d %q", code, errs)
	}
	if out, errs, code := run("root-password\n", "user", "list", "--as", "root"); code != 0 || !strings.Contains(out, "sam") {
		t.Errorf("user list as root: exit %d %q %q", code, out, errs)
	}
	// A name that does not exist gets the same answer as a wrong password.
	if _, errs, code := run("whatever-password\n", "user", "list", "--as", "nobody"); code != 1 || !strings.Contains(errs, "wrong user name or password") {
		t.Errorf("unknown name: exit %d %q", code, errs)
	}
}

// TestLockoutAndRecoveryCLI: five wrong passwords lock the last administrator for
// minutes (the lockout's length is TestLoginLockout's, with a fake clock); the recovery
// code printed at init unlocks them once; a second use is refused.
func TestLockoutAndRecoveryCLI(t *testing.T) {
	run, _, code := insiderStation(t)
	for i := 1; i <= 5; i++ {
		run("guess-password\n", "user", "list", "--as", "root")
	}
	_, errs, c := run("root-password\n", "user", "list", "--as", "root")
	if c != 1 || !strings.Contains(errs, "refused until") {
		t.Fatalf("root after five failures: exit %d %q", c, errs)
	}
	if _, errs, c := run("AAAAA-BBBBB\nnew-root-password\n", "user", "recover", "root"); c != 1 || !strings.Contains(errs, "recovery code") {
		t.Fatalf("wrong recovery code: exit %d %q", c, errs)
	}
	if out, errs, c := run(code+"\nnew-root-password\n", "user", "recover", "root"); c != 0 || !strings.Contains(out, "unlocked") {
		t.Fatalf("recover: exit %d %q %q", c, out, errs)
	}
	if _, errs, c := run("new-root-password\n", "user", "list", "--as", "root"); c != 0 {
		t.Fatalf("root after recovery: exit %d %q", c, errs)
	}
	if _, errs, c := run(code+"\nthird-root-password\n", "user", "recover", "root"); c != 1 || !strings.Contains(errs, "already been used") {
		t.Fatalf("second use of the code: exit %d %q", c, errs)
	}
	out, errs, _ := run("new-root-password\n", "audit", "verify", "--as", "root")
	if !strings.Contains(out, "OK") {
		t.Fatalf("audit after recovery: %s %s", out, errs)
	}
}

// TestResetAndIssuerKeyCLI: a reset gives a one-time password that only allows
// choosing a new one; the issuer key changes only with two people, and the change is
// what IssuerKeyChangesSince returns.
func TestResetAndIssuerKeyCLI(t *testing.T) {
	run, data, _ := insiderStation(t)
	out, errs, c := run("root-password\n", "user", "reset", "sam", "--as", "root")
	m := regexp.MustCompile(`one-time password for sam: (\S+)`).FindStringSubmatch(out)
	if c != 0 || m == nil {
		t.Fatalf("user reset: exit %d %q %q", c, out, errs)
	}
	if _, errs, c := run(m[1]+"\n", "batch", "list", "--as", "sam"); c != 1 || !strings.Contains(errs, "user passwd sam") {
		t.Fatalf("login with the one-time password: exit %d %q", c, errs)
	}
	if _, errs, c := run(m[1]+"\nsam-new-password\n", "user", "passwd", "sam"); c != 0 {
		t.Fatalf("passwd with the one-time password: exit %d %q", c, errs)
	}

	keys1, keys2 := t.TempDir(), t.TempDir()
	run("", "issuer", "keygen", "--out", keys1)
	run("", "issuer", "keygen", "--out", keys2)
	if _, errs, c := run("root-password\n", "station", "set-issuer-key", filepath.Join(keys1, "issuer.pub"), "--as", "root"); c != 0 {
		t.Fatalf("first issuer key: exit %d %q", c, errs)
	}
	if _, errs, c := run("root-password\n", "station", "set-issuer-key", filepath.Join(keys2, "issuer.pub"), "--as", "root"); c != 1 || !strings.Contains(errs, "second person") {
		t.Fatalf("change by one person: exit %d %q", c, errs)
	}
	if _, errs, c := run("root-password\nclara-password\n", "station", "set-issuer-key", filepath.Join(keys2, "issuer.pub"), "--as", "root", "--second", "clara"); c != 1 || !strings.Contains(errs, "role") {
		t.Fatalf("a clerk as the second person: exit %d %q", c, errs)
	}
	if _, errs, c := run("root-password\nwrong-password\n", "station", "set-issuer-key", filepath.Join(keys2, "issuer.pub"), "--as", "root", "--second", "sam"); c != 1 || !strings.Contains(errs, "wrong user name or password") {
		t.Fatalf("second person's wrong password: exit %d %q", c, errs)
	}
	if out, errs, c := run("root-password\nsam-new-password\n", "station", "set-issuer-key", filepath.Join(keys2, "issuer.pub"), "--as", "root", "--second", "sam"); c != 0 || !strings.Contains(out, "fingerprint") {
		t.Fatalf("change by two people: exit %d %q %q", c, out, errs)
	}
	err := withStation(testEnv(enroll.Config{Data: data, TPM: "swtpm"}), func(st *vault.Station) error {
		ch, err := st.IssuerKeyChangesSince(0)
		if err != nil {
			return err
		}
		if len(ch) != 2 || ch[1].By != "root" || ch[1].SecondApprover != "sam" || ch[1].OldFingerprint != ch[0].NewFingerprint || ch[1].NewFingerprint == ch[0].NewFingerprint {
			t.Errorf("issuer key changes: %+v", ch)
		}
		keys, err := st.SupervisorKeyHistory()
		if err != nil {
			return err
		}
		if len(keys) != 2 || keys[0].Reason != vault.KeyReasonPasswordReset || keys[0].ReplacedBy != "root" || !keys[1].ReplacedAt.IsZero() {
			t.Errorf("sam's key history: %+v", keys)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestDeceptiveNamesCLI: `user add` refuses look-alike, invisible and direction
// characters in operator names, and passwords of spaces.
func TestDeceptiveNamesCLI(t *testing.T) {
	run, _, _ := insiderStation(t)
	for _, name := range []string{"\u0455am", "sa\u200bm", "root\u202e", "x\x1b[2Jroot", "\u2067sam\u2069"} {
		_, errs, c := run("root-password\nmallory-password\n", "user", "add", name, "--roles", "admin", "--as", "root")
		if c != 1 || !strings.Contains(errs, "operator names") {
			t.Errorf("user add %q: exit %d %q", name, c, errs)
		}
		if strings.Contains(errs, name) {
			t.Errorf("user add %q: the error repeats the name", name)
		}
	}
	if _, errs, c := run("root-password\n        \n", "user", "add", "olga", "--roles", "clerk", "--as", "root"); c != 1 || !strings.Contains(errs, "not only spaces") {
		t.Errorf("a password of eight spaces: exit %d %q", c, errs)
	}
}

// TestEnrollInputLimits: --photo reads only regular files, checking the size before
// reading: /dev/zero, a FIFO (no writer) and a 2 GB sparse file are refused at once;
// a details file with a direction override is refused without echoing it.
func TestEnrollInputLimits(t *testing.T) {
	run, _, _ := insiderStation(t)
	dir := t.TempDir()
	details := filepath.Join(testenv.Root(), "docs", "examples", "enrollment.json")
	fifo := filepath.Join(dir, "photo.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	sparse := filepath.Join(dir, "big.jpg")
	f, err := os.Create(sparse)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(2 << 30); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, c := range []struct{ photo, want string }{
		{"/dev/zero", "not a regular file (a character device)"},
		{fifo, "not a regular file (a FIFO)"},
		{sparse, "is 2048 MB; at most 32 MB"},
		{dir, "not a regular file (a directory)"},
	} {
		done := make(chan struct{})
		var errs string
		var code int
		start := time.Now()
		go func() {
			defer close(done)
			_, errs, code = run("clara-password\n", "enroll", "--details", details, "--photo", c.photo, "--as", "clara")
		}()
		select {
		case <-done:
		case <-time.After(time.Minute): // a guard against the old hang, not a timing check
			t.Fatalf("--photo %s: still running after a minute", c.photo)
		}
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("--photo %s: exit %d %q", c.photo, code, errs)
		}
		t.Logf("--photo %s refused in %v", c.photo, time.Since(start))
	}

	b, err := os.ReadFile(details)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bidi.json")
	os.WriteFile(bad, regexp.MustCompile(`"place_of_birth":\s*"[^"]*"`).ReplaceAll(b, []byte(`"place_of_birth": "SECRET\u202eTXT"`)), 0o600)
	_, errs, code := run("clara-password\n", "enroll", "--details", bad, "--photo", sparse, "--as", "clara")
	if code != 1 || !strings.Contains(errs, "place_of_birth") || strings.Contains(errs, "SECRET") {
		t.Errorf("details with a direction override: exit %d %q", code, errs)
	}
}
