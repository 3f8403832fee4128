// Package receipt makes the citizen's enrollment receipt as a PDF: application number,
// name, portrait and a QR code of the application number, with text in any script the
// given TrueType font covers (Chinese names need a CJK font such as Debian's
// DroidSansFallbackFull.ttf).
package receipt

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/png"
	"io"
	"time"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
	"github.com/go-pdf/fpdf"
)

// ErrNoFont means no font was given: the core PDF fonts cannot print Chinese names, so
// the receipt refuses rather than printing blanks.
var ErrNoFont = errors.New("receipt: a TrueType font is needed (install fonts-droid-fallback: run scripts/setup)")

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

// Write renders r as an A5 PDF to w using the TrueType font (file contents).
func Write(w io.Writer, r Receipt, font []byte) error {
	if len(font) == 0 {
		return ErrNoFont
	}
	if r.Labels == (Labels{}) {
		r.Labels = EnglishLabels
	}
	pdf := fpdf.New("P", "mm", "A5", "")
	pdf.SetTitle(r.Title+" "+r.ApplicationNumber, true)
	pdf.SetCreator("Enrollment Station", true)
	pdf.AddUTF8FontFromBytes("station", "", font)
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("receipt: loading the font: %w", err)
	}
	pdf.SetMargins(12, 12, 12)
	pdf.AddPage()
	pdf.SetFont("station", "", 18)
	pdf.CellFormat(0, 10, r.Title, "", 1, "C", false, 0, "")
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
		pdf.SetFont("station", "", 9)
		pdf.SetTextColor(90, 90, 90)
		pdf.CellFormat(0, 5, label, "", 1, "L", false, 0, "")
		pdf.SetFont("station", "", 13)
		pdf.SetTextColor(0, 0, 0)
		pdf.CellFormat(0, 7, value, "", 1, "L", false, 0, "")
	}
	pdf.SetFont("station", "", 9)
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
		pdf.SetFont("station", "", 10)
		pdf.MultiCell(0, 5, r.Note, "", "L", false)
	}
	if err := pdf.Output(w); err != nil {
		return fmt.Errorf("receipt: writing the PDF: %w", err)
	}
	return nil
}
