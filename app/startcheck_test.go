package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"enrollstation/enroll"
	"enrollstation/internal/tpmtest"
)

// A station started without models and with a camera that is not there says so at once,
// in plain words with what to do, and can go on to the login (nothing blocks it).
func TestStartupCheckNamesWhatIsMissing(t *testing.T) {
	a := test.NewTempApp(t)
	w := a.NewWindow("t")
	sim := tpmtest.Start(t)
	sim.CloseConn()
	h := &harness{t: t, events: make(chan event, 100)}
	cfg := enroll.Config{Data: t.TempDir(), TPM: sim.Addr(), Models: t.TempDir() /* empty */, Camera: "/dev/video77"}
	sh := newShell(t.Context(), a, w, cfg, testOpener(cfg), false)
	sh.notify = func(name string, x any) { h.events <- event{name, x} }
	t.Cleanup(func() { sh.close() })
	h.sh = sh
	sh.start()
	c := wait[*startCheck](h, "screen")
	var text []string
	for _, p := range c.problems {
		text = append(text, p.What+" "+p.Fix)
	}
	all := strings.Join(text, "\n")
	for _, want := range []string{"face models are missing", "/usr/share/enrollstation/models", "No camera is connected"} {
		if !strings.Contains(all, want) {
			t.Errorf("start-up check lacks %q:\n%s", want, all)
		}
	}
	if c.cont == nil {
		t.Fatal("no Continue: missing models and camera do not block supervisors")
	}
	test.Tap(c.cont)
	if _, ok := sh.current.(*startCheck); ok {
		t.Error("Continue stayed on the check screen")
	}
}
