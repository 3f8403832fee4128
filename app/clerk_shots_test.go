package app

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"enrollstation/internal/testenv"
	"enrollstation/internal/workflow"
)

// TestScreenshotsClerk renders the login, clerk and lock screens at 1366x768 with the
// station theme, in English and Chinese, into $ENROLLSTATION_SHOTS (skipped when unset):
// `ENROLLSTATION_SHOTS=/tmp/shots go test ./app -run ScreenshotsClerk`. The camera is
// testdata/demo.mp4 (scripts/setup makes it), so the capture shot shows the subject
// stepping into place with live guidance.
func TestScreenshotsClerk(t *testing.T) {
	dir := os.Getenv("ENROLLSTATION_SHOTS")
	if dir == "" {
		t.Skip("set ENROLLSTATION_SHOTS=DIR to write screenshots")
	}
	needModels(t)
	demo := filepath.Join(testenv.Root(), "testdata", "demo.mp4")
	if _, err := os.Stat(demo); err != nil {
		t.Skip("testdata/demo.mp4 missing: run scripts/setup")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"en", "zh"} {
		setLanguage(lang)
		h := newHarness(t, demo)
		th, err := newStationTheme()
		if err != nil {
			t.Fatal(err)
		}
		h.sh.app.Settings().SetTheme(th)
		shot := func(name string) {
			t.Helper()
			f, err := os.Create(filepath.Join(dir, "clerk-"+name+"-"+lang+".png"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if err := png.Encode(f, h.sh.win.Canvas().Capture()); err != nil {
				t.Fatal(err)
			}
		}
		f := wait[*loginForm](h, "screen")
		f.user.SetText("clerk")
		test.Type(f.pass, "wrong-password")
		test.Tap(f.submit)
		wait[error](h, "login-failed")
		shot("login")
		test.Type(f.pass, clerkPW)
		test.Tap(f.submit)
		home := wait[*clerkHome](h, "screen")
		test.Tap(home.newBtn)
		d := wait[*detailsForm](h, "screen")
		fillValid(d)
		d.entries[workflow.FieldDateOfBirth].SetText("17/04/1988")
		test.Tap(d.next)
		shot("details")
		d.entries[workflow.FieldDateOfBirth].SetText("1988-04-17")
		test.Tap(d.next)
		wait[*captureView](h, "screen")
		// A frame where the subject is still stepping into place: guidance and chips.
		for l := wait[workflow.Live](h, "assessed"); l.Report == nil || l.Report.Face == nil; l = wait[workflow.Live](h, "assessed") {
		}
		wait[workflow.Live](h, "assessed")
		shot("capture")
		rv := wait[*reviewView](h, "screen")
		<-rv.ready
		test.Tap(rv.consent)
		shot("review")
		test.Tap(rv.submit)
		wait[*receiptView](h, "screen")
		shot("receipt")
		test.Tap(rv.e.stepView.(*receiptView).done)
		wait[*clerkHome](h, "screen")
		shot("home")
		h.sh.idle.start(time.Millisecond)
		wait[*loginForm](h, "screen")
		shot("locked")
	}
	setLanguage("en")
}
