// Package receipt makes the citizen's enrollment receipt as a PDF: application number,
// name, portrait and a QR code of the application number.
//
// A PDF font does not fall back to another font for missing glyphs the way a screen's
// text stack does, and no single Debian TrueType font covers both Latin and Chinese
// (DroidSansFallbackFull has no Latin letters at all). So the receipt takes two fonts and
// sets each run of text in the first font that has its glyphs.
package receipt

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/go-pdf/fpdf"
	"golang.org/x/image/font/sfnt"
)

// ErrNoFont means a font is missing: the core PDF fonts cannot print Chinese names, so
// the receipt refuses rather than printing blanks.
var ErrNoFont = errors.New("receipt: the receipt fonts are missing (fonts-dejavu-core and fonts-droid-fallback: run scripts/setup)")

// Default font files on Debian (scripts/setup installs both packages).
const (
	DefaultTextFont = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
	DefaultCJKFont  = "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"
)

// Fonts are the TrueType files (contents) the receipt is set in: Text for Latin and
// most scripts, CJK for the Chinese characters Text lacks.
type Fonts struct {
	Text, CJK []byte
}

// LoadFonts reads the default fonts.
func LoadFonts() (Fonts, error) {
	t, err := os.ReadFile(DefaultTextFont)
	if err != nil {
		return Fonts{}, fmt.Errorf("%w: %v", ErrNoFont, err)
	}
	c, err := os.ReadFile(DefaultCJKFont)
	if err != nil {
		return Fonts{}, fmt.Errorf("%w: %v", ErrNoFont, err)
	}
	return Fonts{Text: t, CJK: c}, nil
}

// Receipt is what the receipt shows. Labels are in the station's language.
type Receipt struct {
	Title             string // e.g. "Enrollment receipt"
	ApplicationNumber string
	Name              string
	DateOfBirth       string
	Station, Site     string
	Clerk             string
	At                time.Time
	Portrait          []byte // JPEG
	Note              string // e.g. what happens next
	Labels            Labels
}

// Labels are the field captions.
type Labels struct {
	ApplicationNumber, Name, DateOfBirth, Station, Clerk, Date string
}

// EnglishLabels are the default captions.
var EnglishLabels = Labels{"Application number", "Name", "Date of birth", "Station", "Clerk", "Date"}

// QR returns the QR code of s as a size×size image.
func QR(s string, size int) (image.Image, error) {
	c, err := qr.Encode(s, qr.M, qr.Auto)
	if err != nil {
		return nil, fmt.Errorf("receipt: QR code: %w", err)
	}
	sc, err := barcode.Scale(c, size, size)
	if err != nil {
		return nil, fmt.Errorf("receipt: QR code: %w", err)
	}
	return sc, nil
}

// Write renders r as an A5 PDF to w.
func Write(w io.Writer, r Receipt, fonts Fonts) error {
	if len(fonts.Text) == 0 || len(fonts.CJK) == 0 {
		return ErrNoFont
	}
	set, err := newFontSet(fonts)
	if err != nil {
		return err
	}
	if r.Labels == (Labels{}) {
		r.Labels = EnglishLabels
	}
	pdf := fpdf.New("P", "mm", "A5", "")
	pdf.SetTitle(r.Title+" "+r.ApplicationNumber, true)
	pdf.SetCreator("Enrollment Station", true)
	pdf.AddUTF8FontFromBytes(fontText, "", fonts.Text)
	pdf.AddUTF8FontFromBytes(fontCJK, "", fonts.CJK)
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("receipt: loading the fonts: %w", err)
	}
	pdf.SetMargins(12, 12, 12)
	pdf.AddPage()
	line := func(size float64, h float64, s, align string) { set.line(pdf, size, h, s, align) }
	line(18, 10, r.Title, "C")
	pdf.Ln(2)

	// Portrait on the left (35×45 mm, the card's proportions), QR code on the right.
	top := pdf.GetY()
	if len(r.Portrait) > 0 {
		pdf.RegisterImageOptionsReader("portrait", fpdf.ImageOptions{ImageType: "JPG"}, bytes.NewReader(r.Portrait))
		pdf.ImageOptions("portrait", 12, top, 35, 46.7, false, fpdf.ImageOptions{ImageType: "JPG"}, 0, "")
	}
	code, err := QR(r.ApplicationNumber, 300)
	if err != nil {
		return err
	}
	var qb bytes.Buffer
	if err := png.Encode(&qb, code); err != nil {
		return fmt.Errorf("receipt: QR image: %w", err)
	}
	pdf.RegisterImageOptionsReader("qr", fpdf.ImageOptions{ImageType: "PNG"}, &qb)
	pdf.ImageOptions("qr", 148-12-40, top, 40, 40, false, fpdf.ImageOptions{ImageType: "PNG"}, 0, "")
	pdf.SetY(top + 50)

	row := func(label, value string) {
		pdf.SetTextColor(90, 90, 90)
		line(9, 5, label, "L")
		pdf.SetTextColor(0, 0, 0)
		line(13, 7, value, "L")
	}
	row(r.Labels.ApplicationNumber, r.ApplicationNumber)
	row(r.Labels.Name, r.Name)
	if r.DateOfBirth != "" {
		row(r.Labels.DateOfBirth, r.DateOfBirth)
	}
	station := r.Station
	if r.Site != "" {
		station += ", " + r.Site
	}
	row(r.Labels.Station, station)
	row(r.Labels.Clerk, r.Clerk)
	row(r.Labels.Date, r.At.Local().Format("2006-01-02 15:04"))
	if r.Note != "" {
		pdf.Ln(3)
		set.flow(pdf, 10, 5, r.Note)
		pdf.Ln(5)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("receipt: writing the PDF: %w", err)
	}
	return nil
}

const (
	fontText = "text"
	fontCJK  = "cjk"
)

// fontSet knows which of the two fonts has a glyph for each rune.
type fontSet struct {
	text, cjk *sfnt.Font
	buf       sfnt.Buffer
}

func newFontSet(f Fonts) (*fontSet, error) {
	t, err := sfnt.Parse(f.Text)
	if err != nil {
		return nil, fmt.Errorf("%w: text font: %v", ErrNoFont, err)
	}
	c, err := sfnt.Parse(f.CJK)
	if err != nil {
		return nil, fmt.Errorf("%w: CJK font: %v", ErrNoFont, err)
	}
	return &fontSet{text: t, cjk: c}, nil
}

func (fs *fontSet) has(f *sfnt.Font, r rune) bool {
	i, err := f.GlyphIndex(&fs.buf, r)
	return err == nil && i != 0
}

// fontFor is the font a rune is set in: the text font when it has the glyph, else the
// CJK font when it does, else the text font (which shows its missing-glyph box).
func (fs *fontSet) fontFor(r rune) string {
	if fs.has(fs.text, r) || !fs.has(fs.cjk, r) {
		return fontText
	}
	return fontCJK
}

type run struct{ font, text string }

// runs splits s into runs of one font. Spaces stay in the run they are in.
func (fs *fontSet) runs(s string) []run {
	var out []run
	for _, r := range s {
		f := fontText
		if r != ' ' || len(out) == 0 {
			f = fs.fontFor(r)
		} else {
			f = out[len(out)-1].font
		}
		if n := len(out); n > 0 && out[n-1].font == f {
			out[n-1].text += string(r)
			continue
		}
		out = append(out, run{f, string(r)})
	}
	return out
}

// line sets s on one line of height h, aligned "L" or "C", and moves below it.
func (fs *fontSet) line(pdf *fpdf.Fpdf, size, h float64, s, align string) {
	rs := fs.runs(s)
	width := 0.0
	for _, r := range rs {
		pdf.SetFont(r.font, "", size)
		width += pdf.GetStringWidth(r.text)
	}
	if align == "C" {
		left, _, right, _ := pdf.GetMargins()
		pw, _ := pdf.GetPageSize()
		pdf.SetX(left + (pw-left-right-width)/2)
	}
	for _, r := range rs {
		pdf.SetFont(r.font, "", size)
		pdf.CellFormat(pdf.GetStringWidth(r.text), h, r.text, "", 0, "L", false, 0, "")
	}
	pdf.Ln(h)
}

// flow sets s as wrapped text, switching fonts run by run.
func (fs *fontSet) flow(pdf *fpdf.Fpdf, size, h float64, s string) {
	for _, r := range fs.runs(s) {
		pdf.SetFont(r.font, "", size)
		pdf.Write(h, r.text)
	}
}
