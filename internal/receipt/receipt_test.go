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

const cjkFont = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"

// The receipt is a PDF whose text (read back with Ghostscript) holds the Chinese name and
// the application number.
func TestWrite(t *testing.T) {
	font, err := os.ReadFile(cjkFont)
	if err != nil {
		t.Skipf("CJK font missing (scripts/setup installs fonts-droid-fallback): %v", err)
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
	if err := Write(&b, r, font); err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(b.Bytes(), []byte("%PDF-")) || b.Len() < 10_000 {
		t.Fatalf("not a PDF with images: %d bytes", b.Len())
	}
	gs, err := exec.LookPath("gs")
	if err != nil {
		t.Skip("ghostscript not installed: text not checked")
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
	if err := Write(&bytes.Buffer{}, Receipt{ApplicationNumber: "x"}, nil); !errors.Is(err, ErrNoFont) {
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
