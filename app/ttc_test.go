package app

import (
	"bytes"
	"os"
	"testing"

	"fyne.io/fyne/v2"
	"github.com/go-text/typesetting/font"
)

// The bold CJK face is taken out of Debian's collection as a font Fyne can load, and
// the theme uses it for bold text.
func TestBoldCJKFace(t *testing.T) {
	ttc, err := os.ReadFile(CJKBoldCollection)
	if err != nil {
		t.Skipf("%s missing (fonts-noto-cjk: run scripts/setup)", CJKBoldCollection)
	}
	otf, err := fontFromCollection(ttc, "CJK SC")
	if err != nil {
		t.Fatal(err)
	}
	face, err := font.ParseTTF(bytes.NewReader(otf))
	if err != nil {
		t.Fatalf("extracted face does not load: %v", err)
	}
	if _, ok := face.NominalGlyph('审'); !ok {
		t.Error("extracted face has no glyph for 审")
	}
	if d := face.Describe(); d.Aspect.Weight < 600 {
		t.Errorf("extracted face weight %v, want bold", d.Aspect.Weight)
	}
	th, _ := newStationTheme()
	if th.Font(fyne.TextStyle{Bold: true}) == th.Font(fyne.TextStyle{}) {
		t.Error("bold text uses the regular face")
	}
}
