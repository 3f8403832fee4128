package app

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

// shoot saves the window as SHOTS_DIR/name.png when SHOTS_DIR is set, to look at a
// screen the test reached (the test driver's software rendering, in the station theme).
func shoot(t *testing.T, sh *shell, name string) {
	t.Helper()
	dir := os.Getenv("SHOTS_DIR")
	if dir == "" {
		return
	}
	if th, err := newStationTheme(); err == nil {
		sh.app.Settings().SetTheme(th)
	}
	f, err := os.Create(filepath.Join(dir, name+".png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, sh.win.Canvas().Capture()); err != nil {
		t.Fatal(err)
	}
}
