package app

import (
	"context"
	"errors"
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"enrollstation/enroll"
	"enrollstation/internal/testenv"
	"enrollstation/internal/tpmtest"
	"enrollstation/selftest"
)

// runDiagnostics shows the screen in a test window, runs the checks and returns the
// results and the rendered markup once the run has ended.
func runDiagnostics(t *testing.T, checks func() []selftest.Check) ([]selftest.Result, string) {
	t.Helper()
	test.NewTempApp(t)
	d := newDiagnostics(checks)
	done := make(chan []selftest.Result, 1)
	d.onDone = func(rs []selftest.Result) { done <- rs }
	w := test.NewTempWindow(t, d.Content())
	d.Start(context.Background())
	rs := <-done
	return rs, test.RenderToMarkup(w.Canvas())
}

func TestDiagnosticsShowsFailureHint(t *testing.T) {
	checks := func() []selftest.Check {
		return []selftest.Check{
			{Name: "ok check", Run: func(context.Context) (selftest.Text, error) { return selftest.Textf("all good"), nil }},
			{Name: "bad check", Run: func(context.Context) (selftest.Text, error) {
				return selftest.Text{}, selftest.Hint(errors.New("the widget is unplugged"), "plug the widget in")
			}},
		}
	}
	rs, markup := runDiagnostics(t, checks)
	if len(rs) != 2 || !rs[0].OK || rs[1].OK {
		t.Fatalf("results = %+v, want one pass then one fail", rs)
	}
	for _, want := range []string{"PASS  ok check", "all good", "FAIL  bad check", "the widget is unplugged",
		"What to do: plug the widget in", "1 of 2 checks failed"} {
		if !strings.Contains(markup, want) {
			t.Errorf("screen does not show %q:\n%s", want, markup)
		}
	}
}

// TestDiagnosticsStationChecks runs the real station checks (dlib models, go-face, OpenCV,
// a video camera, swtpm, badger) through the screen.
func TestDiagnosticsStationChecks(t *testing.T) {
	sim := tpmtest.Start(t)
	sim.CloseConn() // swtpm takes one client; the TPM check connects itself
	cfg := enroll.Config{
		Data:   t.TempDir(),
		TPM:    sim.Addr(),
		Models: testenv.ModelsDir(t),
		Camera: "synthetic:320x240@30",
	}
	rs, markup := runDiagnostics(t, func() []selftest.Check { return selftest.StationChecks(cfg, testOpener(cfg).OpenTPM, true) })
	for _, r := range rs {
		if !r.OK {
			t.Errorf("check %s failed: %s (hint: %s)", r.Name, r.Detail, r.Hint)
		}
		if !strings.Contains(markup, "PASS  "+checkTitle(r.Name)) {
			t.Errorf("screen does not list %q as passed", r.Name)
		}
	}
	if want := "All 8 checks passed"; !strings.Contains(markup, want) {
		t.Errorf("screen does not say %q:\n%s", want, markup)
	}
	// dlib's OpenBLAS runs on one thread, and the screen says so.
	if !strings.Contains(markup, "BLAS: OpenBLAS, 1 thread") {
		t.Errorf("screen does not report the BLAS threads:\n%s", markup)
	}
}

// A check that passes with a warning shows as a warning, with its hint, and the summary
// says the station works.
func TestDiagnosticsShowWarnings(t *testing.T) {
	checks := func() []selftest.Check {
		return []selftest.Check{{Name: "blas", Run: func(context.Context) (selftest.Text, error) {
			return selftest.Text{}, selftest.Warn(selftest.Textf("BLAS: OpenBLAS runs 2 threads"), "set OPENBLAS_NUM_THREADS=1")
		}}}
	}
	rs, markup := runDiagnostics(t, checks)
	if len(rs) != 1 || !rs[0].OK || !rs[0].Warning {
		t.Fatalf("results = %+v", rs)
	}
	for _, want := range []string{"WARNING  " + checkTitle("blas"), "runs 2 threads", "What to do:", "OPENBLAS_NUM_THREADS=1", "1 with a warning"} {
		if !strings.Contains(markup, want) {
			t.Errorf("screen does not show %q:\n%s", want, markup)
		}
	}
}
