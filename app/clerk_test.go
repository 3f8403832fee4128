package app

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/enroll"
	"enrollstation/internal/testenv"
	"enrollstation/internal/testkit"
	"enrollstation/internal/tpmtest"
	"enrollstation/internal/videotest"
	"enrollstation/vault"
)

// testRec is the one go-face recognizer of this test binary, lent to every shell.
var testRec *biometrics.Recognizer

func TestMain(m *testing.M) {
	os.Exit(func() int {
		if r, err := biometrics.NewRecognizer(testenv.Root() + "/models"); err == nil {
			testRec = r
			defer r.Close()
		}
		return m.Run()
	}())
}

// event is something a screen did (see shell.notify).
type event struct {
	name string
	x    any
}

// harness runs the real shell in a headless Fyne test window on a provisioned station
// (real swtpm, real encrypted store) with a camera spec.
type harness struct {
	t      *testing.T
	sh     *shell
	events chan event
	stderr *bytes.Buffer
}

const (
	clerkPW  = "clerk-password"
	clerk2PW = "clerk2-password"
)

func newHarness(t *testing.T, camera string) *harness {
	t.Helper()
	return newHarnessAt(t, camera, t.TempDir())
}

// newHarnessAt is newHarness with the station's data in dir.
func newHarnessAt(t *testing.T, camera, dir string) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	sim := tpmtest.Start(t)
	tp, err := vault.NewTPM(sim.TPM(), "software")
	if err != nil {
		t.Fatal(err)
	}
	st, err := vault.Init(dir, tp, vault.Config{KDF: testkit.FastKDF},
		vault.InitOptions{Name: "Counter 1", Site: "Town Hall", Admin: "root", AdminPassword: "admin-password"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := st.Login("root", "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	testkit.AddUsers(t, st, admin, testkit.User{Name: "clerk", Roles: []vault.Role{vault.RoleClerk}, Password: clerkPW},
		testkit.User{Name: "clerk2", Roles: []vault.Role{vault.RoleClerk}, Password: clerk2PW})
	// The test videos show candid photos a few degrees turned: the demo's pose limits.
	if err := enroll.SetDemoQuality(st, admin); err != nil {
		t.Fatal(err)
	}
	st.Close()
	tp.Close()
	sim.CloseConn()

	h := &harness{t: t, events: make(chan event, 100000), stderr: &bytes.Buffer{}}
	cfg := enroll.Config{Data: dir, TPM: sim.Addr(), Models: testenv.Root() + "/models", Camera: camera}
	w := a.NewWindow("test")
	w.Resize(fyne.NewSize(1366, 768))
	ctx, cancel := context.WithCancel(context.Background())
	h.sh = newShell(ctx, a, w, cfg, testOpener(cfg), false)
	h.sh.stderr = h.stderr
	h.sh.rec = testRec
	h.sh.notify = func(name string, x any) {
		select {
		case h.events <- event{name, x}:
		default: // a test that stopped listening must not block the UI
		}
	}
	t.Cleanup(func() {
		cancel()
		h.sh.logout()
		h.sh.close()
		w.Close()
	})
	h.sh.start()
	return h
}

// wait returns the next event named name whose value has type T (other events are
// skipped). It fails the test after a generous deadline, so a hang is reported.
func wait[T any](h *harness, name string) T {
	h.t.Helper()
	deadline := time.After(90 * time.Second)
	for {
		select {
		case e := <-h.events:
			if x, ok := e.x.(T); ok && e.name == name {
				return x
			}
		case <-deadline:
			var zero T
			h.t.Fatalf("no %s event with a %T", name, zero)
			return zero
		}
	}
}

func (h *harness) login(user, pw string) *clerkHome {
	h.t.Helper()
	f := wait[*loginForm](h, "screen")
	f.user.SetText(user)
	test.Type(f.pass, pw)
	test.Tap(f.submit)
	return wait[*clerkHome](h, "screen")
}

// fillValid types a valid Chinese citizen's details.
func fillValid(f *detailsForm) {
	set := map[string]string{
		enroll.FieldFamilyName: "陈", enroll.FieldGivenNames: "美玲", enroll.FieldDateOfBirth: "1988-04-17",
		enroll.FieldNationality: "chn", enroll.FieldPlaceOfBirth: "广州", enroll.FieldPhone: "+852 9123 4567",
		enroll.FieldAddressLines + ".0": "德辅道中 88 号", enroll.FieldLocality: "中環, 香港",
		enroll.FieldPostalCode: "999077", enroll.FieldCountry: "HKG",
	}
	for k, v := range set {
		f.entries[k].SetText(v)
	}
	f.sex.SetSelected("F")
}

func needModels(t *testing.T) {
	t.Helper()
	testenv.ModelsDir(t)
	if testRec == nil {
		t.Fatal("recognizer did not load")
	}
}

func video(t *testing.T, kind videotest.Kind, photos ...string) string {
	t.Helper()
	var paths []string
	for _, p := range photos {
		paths = append(paths, testenv.Face(t, p))
	}
	return videotest.Make(t, testRec, t.TempDir(), kind, 3, paths...)
}

// The whole clerk flow: wrong password, login, details invalid then valid, live capture
// with auto-capture on a cooperative subject, review, consent, submit; the enrollment is
// pending in the real encrypted store and the receipt PDF is written.
func TestClerkEnrollmentFlow(t *testing.T) {
	needModels(t)
	h := newHarness(t, video(t, videotest.Good, "sejeong.jpg"))

	f := wait[*loginForm](h, "screen")
	f.user.SetText("clerk")
	test.Type(f.pass, "wrong-password")
	test.Tap(f.submit)
	if err := wait[error](h, "login-failed"); !errors.Is(err, vault.ErrBadPassword) {
		t.Fatalf("login error %v", err)
	}
	if !strings.Contains(f.msg.Text, "Wrong user name or password") {
		t.Errorf("wrong password message %q", f.msg.Text)
	}
	test.Type(f.pass, clerkPW)
	test.Tap(f.submit)
	home := wait[*clerkHome](h, "screen")
	if len(home.rows) != 0 {
		t.Fatalf("%d enrollments on a new station", len(home.rows))
	}

	test.Tap(home.newBtn)
	d := wait[*detailsForm](h, "screen")
	fillValid(d)
	d.entries[enroll.FieldFamilyName].SetText("Chen2")
	d.entries[enroll.FieldDateOfBirth].SetText("1988-13-01")
	test.Tap(d.next)
	if h.sh.current != d {
		t.Fatal("invalid details accepted")
	}
	for field, msg := range map[string]string{enroll.FieldFamilyName: enroll.MsgNameChars, enroll.FieldDateOfBirth: enroll.MsgNoSuchDate} {
		if l := d.errs[field]; !l.Visible() || l.Text != msg {
			t.Errorf("%s: message %q (visible %v), want %q", field, l.Text, l.Visible(), msg)
		}
	}
	d.entries[enroll.FieldFamilyName].SetText("陈")
	if d.errs[enroll.FieldFamilyName].Visible() {
		t.Error("fixed field still marked")
	}
	d.entries[enroll.FieldDateOfBirth].SetText("1988-04-17")
	test.Tap(d.next)

	cv := wait[*captureView](h, "screen")
	c := wait[*enroll.Capture](h, "captured")
	if !c.Auto || !c.Report.Pass {
		t.Errorf("capture auto %v pass %v", c.Auto, c.Report.Pass)
	}
	if cv.shown.Load() == 0 {
		t.Error("no preview frame was shown")
	}
	rv := wait[*reviewView](h, "screen")
	<-rv.ready
	if !rv.submit.Disabled() {
		t.Error("submit enabled without consent")
	}
	test.Tap(rv.consent)
	if rv.submit.Disabled() {
		t.Fatal("submit disabled with consent")
	}
	test.Tap(rv.submit)
	wait[*receiptView](h, "screen")

	e := cv.e
	got, err := h.sh.station.Enrollment(e.savedID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != vault.StatusPending || got.CapturedBy != "clerk" || got.Demographics.ApplicationNumber != e.appNo ||
		got.Demographics.Surname != "陈" || got.Demographics.Nationality != "CHN" || len(got.Portrait) == 0 || len(got.Template) == 0 {
		t.Errorf("stored enrollment %+v", got.Demographics)
	}
	if _, err := enroll.ParseApplicationNumber(e.appNo); err != nil {
		t.Errorf("application number %q: %v", e.appNo, err)
	}
	if !bytes.HasPrefix(e.receiptPDF, []byte("%PDF-")) || e.receiptPage == nil {
		t.Errorf("receipt: %d bytes of PDF, page %v", len(e.receiptPDF), e.receiptPage != nil)
	}
	test.Tap(e.stepView.(*receiptView).done)
	assertNothingInClear(t, h.sh.cfg.Data, []byte("Chen2"), []byte("%PDF-1."), got.Portrait[:64], got.Template[:32])
	home = wait[*clerkHome](h, "screen")
	if len(home.rows) != 1 || home.rows[0].Status != vault.StatusPending {
		t.Errorf("home lists %d enrollments", len(home.rows))
	}
}

// Auto-capture does not fire on a blurred subject nor with two people in view; after
// repeated failed manual captures on the blurred one the clerk forces one with a reason,
// and the supervisor's queue gets it marked as forced.
func TestCaptureRefusesAndForces(t *testing.T) {
	needModels(t)
	two := video(t, videotest.TwoOne, "sejeong.jpg", "bona.jpg")
	blur := video(t, videotest.Blur, "sejeong.jpg")
	for _, tc := range []struct {
		name, video string
		force       bool
	}{{"two people", two, false}, {"blurred", blur, true}} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t, tc.video)
			home := h.login("clerk", clerkPW)
			test.Tap(home.newBtn)
			d := wait[*detailsForm](h, "screen")
			fillValid(d)
			test.Tap(d.next)
			cv := wait[*captureView](h, "screen")
			// More assessments than auto-capture needs, over a full loop of the video.
			var seen []string
			for n := 0; n < 15; {
				select {
				case ev := <-h.events:
					switch ev.name {
					case "captured":
						t.Fatalf("auto-capture fired (guidance so far %v)", seen)
					case "assessed":
						l := ev.x.(enroll.Live)
						seen = append(seen, l.Guidance.Key)
						n++
					}
				case <-time.After(90 * time.Second):
					t.Fatal("no assessments")
				}
			}
			if tc.name == "two people" && !contains(seen, biometrics.GuideOnePerson) {
				t.Errorf("guidance %v never asked for one person", seen)
			}
			if !tc.force {
				return
			}
			if cv.forceBox.Visible() {
				t.Fatal("force offered before any failed attempt")
			}
			for i := 1; i <= 3; i++ {
				for l := wait[enroll.Live](h, "assessed"); l.Report == nil || l.Report.Face == nil; l = wait[enroll.Live](h, "assessed") {
				}
				test.Tap(cv.captureB)
				a := wait[enroll.Attempt](h, "failed")
				if a.Attempts != i || a.Report == nil {
					t.Fatalf("attempt %d: %+v", i, a)
				}
			}
			if !cv.forceBox.Visible() {
				t.Fatal("force not offered after 3 failed attempts")
			}
			test.Tap(cv.forceB)
			if cv.msg.Text != "A forced capture needs a reason." {
				t.Errorf("empty reason: %q", cv.msg.Text)
			}
			test.Type(cv.reason, "camera focus fault reported")
			test.Tap(cv.forceB)
			c := wait[*enroll.Capture](h, "captured")
			if !c.Forced || c.Reason != "camera focus fault reported" || c.Attempts != 3 {
				t.Errorf("forced capture %+v", c)
			}
			rv := wait[*reviewView](h, "screen")
			<-rv.ready
			test.Tap(rv.consent)
			test.Tap(rv.submit)
			wait[*receiptView](h, "screen")
			got, err := h.sh.station.Enrollment(rv.e.savedID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status != vault.StatusPending || got.Capture.Extra[enroll.ExtraForcedReason] != "camera focus fault reported" || got.Capture.Attempts != 3 {
				t.Errorf("stored capture meta %+v", got.Capture)
			}
		})
	}
}

func contains(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// The idle lock hides the work in progress; the same clerk unlocks back into it with
// what was typed, another operator starts afresh.
func TestIdleLockAndResume(t *testing.T) {
	h := newHarness(t, "synthetic:640x360@10")
	home := h.login("clerk", clerkPW)
	test.Tap(home.newBtn)
	d := wait[*detailsForm](h, "screen")
	test.Type(d.entries[enroll.FieldFamilyName], "陈")
	d.entries[enroll.FieldGivenNames].SetText("美玲")

	h.sh.idle.start(time.Millisecond) // the configured idle time, shortened
	lf := wait[*loginForm](h, "screen")
	if lf.user.Text != "clerk" || h.sh.sess != nil && h.sh.locked == nil {
		t.Fatalf("lock screen for %q", lf.user.Text)
	}
	test.Type(lf.pass, "not-my-password")
	test.Tap(lf.submit)
	if err := wait[error](h, "login-failed"); !errors.Is(err, vault.ErrBadPassword) {
		t.Fatalf("unlock error %v", err)
	}
	test.Type(lf.pass, clerkPW)
	test.Tap(lf.submit)
	back := wait[*detailsForm](h, "screen")
	if back != d || d.entries[enroll.FieldFamilyName].Text != "陈" || d.entries[enroll.FieldGivenNames].Text != "美玲" {
		t.Fatalf("resumed into %p (was %p) with %q", back, d, d.entries[enroll.FieldFamilyName].Text)
	}

	h.sh.idle.start(time.Millisecond)
	lf = wait[*loginForm](h, "screen")
	lf.user.SetText("clerk2")
	test.Type(lf.pass, clerk2PW)
	test.Tap(lf.submit)
	wait[*clerkHome](h, "screen")
	if h.sh.sess.Name != "clerk2" {
		t.Errorf("session %s", h.sh.sess.Name)
	}
}

// The login screen switches to Simplified Chinese and back; screens are rebuilt in the
// chosen language.
func TestLanguageSwitch(t *testing.T) {
	h := newHarness(t, "synthetic:640x360@10")
	f := wait[*loginForm](h, "screen")
	f.user.SetText("clerk")
	f.lang.SetSelected(languages[1].Name)
	zh := wait[*loginForm](h, "screen")
	t.Cleanup(func() { setLanguage("en") })
	if zh.submit.Text != "登录" || zh.user.Text != "clerk" {
		t.Errorf("Chinese login button %q, user %q", zh.submit.Text, zh.user.Text)
	}
	zh.lang.SetSelected(languages[0].Name)
	en := wait[*loginForm](h, "screen")
	if en.submit.Text != "Log in" {
		t.Errorf("English login button %q", en.submit.Text)
	}
}

// Keyboard-first: Enter on the home screen starts an enrollment, Esc in a details field
// goes back home, Enter in a field continues (validating).
func TestClerkKeyboard(t *testing.T) {
	h := newHarness(t, "synthetic:640x360@10")
	h.login("clerk", clerkPW)
	c := h.sh.win.Canvas()
	c.OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyReturn})
	d := wait[*detailsForm](h, "screen")
	if c.Focused() != d.entries[enroll.FieldFamilyName] {
		t.Errorf("focus on %v, want the family name", c.Focused())
	}
	test.Type(d.entries[enroll.FieldFamilyName], "陈")
	d.entries[enroll.FieldFamilyName].TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if !d.errs[enroll.FieldGivenNames].Visible() || h.sh.current != d {
		t.Error("Enter with missing fields did not validate in place")
	}
	if c.Focused() != d.entries[enroll.FieldGivenNames] {
		t.Errorf("focus on %v, want the first bad field", c.Focused())
	}
	d.entries[enroll.FieldGivenNames].TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	wait[*clerkHome](h, "screen")
}

// On a nearly full disk the clerk's home says so and no enrollment starts (by button or
// Enter), before any citizen's details are typed; with room again, work goes on.
func TestClerkLowDisk(t *testing.T) {
	disk := testenv.SmallDisk(t, 400)
	h := newHarnessAt(t, "synthetic:640x360@10", filepath.Join(disk, "data"))
	// Between the store's two reserves (128 MB for any write, 256 MB for enrollments):
	// logging in works, enrolling does not.
	ballast := testenv.FillDisk(t, disk, 200<<20)
	home := h.login("clerk", clerkPW)
	if !home.space.Visible() || !strings.Contains(home.space.Text, "disk is almost full") {
		t.Fatalf("low disk: warning %q (visible %v)", home.space.Text, home.space.Visible())
	}
	test.Tap(home.newBtn)
	h.sh.win.Canvas().OnTypedKey()(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if h.sh.current != home {
		t.Fatalf("an enrollment started on a full disk: %T", h.sh.current)
	}
	os.Remove(ballast)
	test.Tap(home.newBtn)
	wait[*detailsForm](h, "screen")
}

// Locking during capture stops the camera (nothing captured behind a locked screen) and
// unlocking restarts the capture step of the same enrollment.
func TestIdleLockDuringCapture(t *testing.T) {
	needModels(t)
	h := newHarness(t, "synthetic:640x360@15")
	home := h.login("clerk", clerkPW)
	test.Tap(home.newBtn)
	d := wait[*detailsForm](h, "screen")
	fillValid(d)
	test.Tap(d.next)
	cv := wait[*captureView](h, "screen")
	wait[enroll.Live](h, "assessed") // the camera and analysis are running
	appNo := cv.e.appNo

	h.sh.idle.start(time.Millisecond)
	lf := wait[*loginForm](h, "screen")
	if !cv.isDone() {
		t.Error("capture still running behind the lock screen")
	}
	test.Type(lf.pass, clerkPW)
	test.Tap(lf.submit)
	again := wait[*captureView](h, "screen")
	if again == cv || again.e.appNo != appNo {
		t.Fatalf("resumed into %p (app %s), was %p (app %s)", again, again.e.appNo, cv, appNo)
	}
	wait[enroll.Live](h, "assessed") // and it runs again
}

// unplugging fails one read of a real (synthetic) camera, as a pulled cable does.
type unplugging struct {
	capture.Source
	reads *atomic.Int64
}

func (u *unplugging) Read(ctx context.Context, dst *gocv.Mat) error {
	if u.reads.Add(1) == 20 {
		return fmt.Errorf("test unplug: %w", capture.ErrReadFailed)
	}
	return u.Source.Read(ctx, dst)
}

// A camera that disconnects during capture is shown as disconnected and comes back
// without restarting the station or the enrollment.
func TestCaptureCameraDisconnect(t *testing.T) {
	needModels(t)
	h := newHarness(t, "synthetic:640x360@30")
	var reads atomic.Int64
	h.sh.openCamera = func(spec string, opts capture.Options) capture.Opener {
		return func(ctx context.Context) (capture.Source, error) {
			s, err := capture.Open(ctx, spec, opts)
			if err != nil {
				return nil, err
			}
			return &unplugging{Source: s, reads: &reads}, nil
		}
	}
	home := h.login("clerk", clerkPW)
	test.Tap(home.newBtn)
	d := wait[*detailsForm](h, "screen")
	fillValid(d)
	test.Tap(d.next)
	cv := wait[*captureView](h, "screen")
	for ev := wait[capture.Event](h, "camera"); ev.State != capture.StateDisconnected; ev = wait[capture.Event](h, "camera") {
	}
	if !strings.Contains(cv.camState.Text, "Camera disconnected") {
		t.Errorf("camera state %q", cv.camState.Text)
	}
	for ev := wait[capture.Event](h, "camera"); ev.State != capture.StateReconnected; ev = wait[capture.Event](h, "camera") {
	}
	if cv.camState.Text != "" || h.sh.current != cv {
		t.Errorf("after reconnecting: state %q, screen %T", cv.camState.Text, h.sh.current)
	}
	shown := cv.shown.Load()
	wait[enroll.Live](h, "assessed")
	wait[enroll.Live](h, "assessed")
	if cv.shown.Load() <= shown {
		t.Error("no preview after reconnecting")
	}
}

// assertNothingInClear fails if any file under dir holds one of the needles in clear:
// everything about a citizen belongs inside the encrypted store. Needles are long enough
// (5+ bytes) not to turn up by chance in megabytes of ciphertext.
func assertNothingInClear(t *testing.T, dir string, needles ...[]byte) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, n := range needles {
			if bytes.Contains(b, n) {
				t.Errorf("%s holds %.20q in clear", p, n)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// After a password reset the one-time password opens a dialog for the operator's own
// password, which then logs them in; the one-time password is used up.
func TestOneTimePasswordLogin(t *testing.T) {
	h := newHarness(t, "synthetic:640x360@10")
	lf := wait[*loginForm](h, "screen")
	admin, err := h.sh.station.Login("root", "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	otp, err := h.sh.station.ResetPassword(admin, "clerk2")
	if err != nil {
		t.Fatal(err)
	}
	lf.user.SetText("clerk2")
	test.Type(lf.pass, otp)
	test.Tap(lf.submit)
	nf := wait[*newPasswordForm](h, "new-password")
	nf.pw1.SetText("my-own-password")
	nf.pw2.SetText("my-own-passwore")
	nf.save()
	if !strings.Contains(lf.msg.Text, "differ") {
		t.Fatalf("mismatched passwords: %q", lf.msg.Text)
	}
	nf.pw2.SetText("my-own-password")
	nf.save()
	wait[*clerkHome](h, "screen")
	if h.sh.sess == nil || h.sh.sess.Name != "clerk2" {
		t.Fatalf("session %+v", h.sh.sess)
	}
	if _, err := h.sh.station.Login("clerk2", otp); !errors.Is(err, vault.ErrBadPassword) {
		t.Fatalf("the one-time password after use: %v", err)
	}
}
