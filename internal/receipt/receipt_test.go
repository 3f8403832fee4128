package receipt

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"enrollstation/internal/testenv"
)

// The receipt is a PDF whose text (read back with Ghostscript) holds the Chinese name and
// the application number.
func TestWrite(t *testing.T) {
	fonts, err := LoadFonts()
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	portrait, err := os.ReadFile(testenv.Face(t, "bona.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	r := Receipt{
		Title: "登记回执", ApplicationNumber: "261125-123456-7", Name: "陈 美玲", DateOfBirth: "1988-04-17",
		Station: "Counter 1", Site: "Town Hall", Clerk: "clerk", At: time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		Portrait: portrait, Note: "请保留此回执。",
	}
	var b bytes.Buffer
	if err := Write(&b, r, fonts); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) || b.Len() < 10_000 {
		t.Fatalf("not a PDF with images: %d bytes", b.Len())
	}
	gs, err := exec.LookPath("gs")
	if err != nil {
		t.Fatal("ghostscript not installed (run scripts/setup): the receipt's text cannot be checked")
	}
	p := filepath.Join(t.TempDir(), "r.pdf")
	if err := os.WriteFile(p, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(gs, "-q", "-dNOPAUSE", "-dBATCH", "-sDEVICE=txtwrite", "-sOutputFile=-", p).Output()
	if err != nil {
		t.Fatalf("gs: %v", err)
	}
	for _, want := range []string{"陈 美玲", "261125-123456-7", "登记回执", "Counter 1, Town Hall"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("receipt text lacks %q:\n%s", want, out)
		}
	}
}

func TestWriteNoFont(t *testing.T) {
	if err := Write(&bytes.Buffer{}, Receipt{ApplicationNumber: "x"}, Fonts{}); !errors.Is(err, ErrNoFont) {
		t.Errorf("got %v, want ErrNoFont", err)
	}
}

func TestQR(t *testing.T) {
	img, err := QR("261125-123456-7", 200)
	if err != nil {
		t.Fatal(err)
	}
	if b := img.Bounds(); b.Dx() != 200 || b.Dy() != 200 {
		t.Errorf("bounds %v", b)
	}
}

// Every character a receipt prints must be set in a font that has its glyph: text
// extraction alone would pass a PDF that shows boxes (as one did, with Latin text set in
// a CJK fallback font that has no Latin letters).
func TestEveryGlyphCovered(t *testing.T) {
	fonts, err := LoadFonts()
	if err != nil {
		t.Fatalf("%v (run scripts/setup)", err)
	}
	fs, err := newFontSet(fonts)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{
		"Enrollment receipt", "登记回执", "陈 美玲", "Chen Mei Ling · 1990-02-03", "261125-123456-X",
		"Keep this receipt. Quote the application number when you collect your card.",
		"请保留此回执。领取证件时请出示申请编号。", "Zoë Ñúñez-Łukasz", "Counter 1, Town Hall",
	}
	used := map[string]bool{}
	for _, s := range texts {
		for _, r := range fs.runs(s) {
			used[r.font] = true
			f := fs.text
			if r.font == fontCJK {
				f = fs.cjk
			}
			for _, c := range r.text {
				if !fs.has(f, c) {
					t.Errorf("%q: %q is set in %s, which has no glyph for it", s, c, r.font)
				}
			}
		}
	}
	if !used[fontText] || !used[fontCJK] {
		t.Errorf("fonts used %v, want both", used)
	}
}
