package app

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/internal/receipt"
	"enrollstation/vault"
)

// receiptView is step 4: the application number, portrait and QR code, and the PDF.
type receiptView struct {
	e    *enrollment
	done *widget.Button
	next *widget.Button
}

// writeReceipt makes the receipt PDF for printing and returns its path. It carries the
// citizen's name and portrait, so it is never kept with the station's data (which is
// encrypted at rest): it goes to the shell's private receipts folder in the runtime
// directory (a RAM disk on most systems), is deleted when the clerk leaves the receipt
// screen, and the folder is removed when the window closes. Safe from any goroutine.
func (sh *shell) writeReceipt(e *vault.Enrollment, c *enroll.Capture) (string, error) {
	fonts, err := receipt.LoadFonts()
	if err != nil {
		return "", err
	}
	set := sh.settings()
	r := receipt.Receipt{
		Title:             tr("Enrollment receipt"),
		ApplicationNumber: e.Demographics.ApplicationNumber,
		Name:              displayName(e.Demographics),
		DateOfBirth:       e.Demographics.DateOfBirth,
		Station:           set.StationName, Site: set.Site,
		Clerk: e.CapturedBy, At: e.CreatedAt, Portrait: c.Portrait,
		Note: tr("Keep this receipt. Quote the application number when you collect your card."),
		Labels: receipt.Labels{
			ApplicationNumber: tr("Application number"), Name: tr("Name"), DateOfBirth: tr("Date of birth"),
			Station: tr("Station"), Clerk: tr("Clerk"), Date: tr("Date"),
		},
	}
	var b bytes.Buffer
	if err := receipt.Write(&b, r, fonts); err != nil {
		return "", err
	}
	dir, err := sh.receiptsDir()
	if err != nil {
		return "", fmt.Errorf("saving the receipt: %w", err)
	}
	path := filepath.Join(dir, e.Demographics.ApplicationNumber+".pdf")
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		return "", fmt.Errorf("saving the receipt: %w", err)
	}
	return path, nil
}

// receiptsDir is the shell's private folder for receipts being printed, made on first
// use under $XDG_RUNTIME_DIR (else the temp dir) and removed by shell.close.
func (sh *shell) receiptsDir() (string, error) {
	sh.receiptMu.Lock()
	defer sh.receiptMu.Unlock()
	if sh.receipts != "" {
		return sh.receipts, nil
	}
	base := os.Getenv("XDG_RUNTIME_DIR")
	if base == "" {
		base = os.TempDir()
	}
	dir, err := os.MkdirTemp(base, "enrollstation-receipts-")
	if err != nil {
		return "", err
	}
	sh.receipts = dir
	return dir, nil
}

// removeReceipts deletes the receipts folder (at close).
func (sh *shell) removeReceipts() {
	sh.receiptMu.Lock()
	defer sh.receiptMu.Unlock()
	if sh.receipts != "" {
		os.RemoveAll(sh.receipts)
		sh.receipts = ""
	}
}

func (e *enrollment) showReceipt(receiptErr error) {
	v := &receiptView{e: e}
	head := widget.NewLabelWithStyle(tr("Submitted — waiting for the supervisor's approval"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.Importance = widget.SuccessImportance
	no := canvas.NewText(e.appNo, theme.Color(theme.ColorNameForeground))
	no.TextSize = 34
	no.TextStyle = fyne.TextStyle{Monospace: true}
	name := widget.NewLabel(fmt.Sprintf("%s  ·  %s", displayName(e.details.Demographics(e.appNo)), e.details.DateOfBirth))
	var qr fyne.CanvasObject
	if qrImg, err := receipt.QR(e.appNo, 220); err != nil {
		qr = widget.NewLabel(errText(err))
	} else {
		ci := canvas.NewImageFromImage(qrImg)
		ci.FillMode = canvas.ImageFillContain
		ci.ScaleMode = canvas.ImageScalePixels
		ci.SetMinSize(fyne.NewSize(220, 220))
		qr = ci
	}
	var pdf fyne.CanvasObject
	if receiptErr != nil {
		l := widget.NewLabel(tr("The receipt PDF could not be made: %s", errText(receiptErr)))
		l.Importance = widget.DangerImportance
		l.Wrapping = fyne.TextWrapWord
		pdf = l
	} else {
		open := widget.NewButtonWithIcon(tr("Open the receipt PDF"), theme.DocumentPrintIcon(), func() {
			u := &url.URL{Scheme: "file", Path: e.receipt}
			if err := e.sh.app.OpenURL(u); err != nil {
				fyne.LogError("opening receipt", err)
			}
		})
		note := widget.NewLabel(tr("Print the receipt now: it is deleted when you leave this screen."))
		note.Wrapping = fyne.TextWrapWord
		pdf = container.NewVBox(note, open)
	}
	// The printable copy goes as soon as the clerk moves on (see writeReceipt).
	leave := func(next func()) func() {
		return func() {
			if e.receipt != "" {
				os.Remove(e.receipt)
			}
			next()
		}
	}
	v.next = widget.NewButtonWithIcon(tr("Next citizen"), theme.ContentAddIcon(), leave(func() { e.sh.startEnrollment() }))
	v.next.Importance = widget.HighImportance
	v.done = widget.NewButtonWithIcon(tr("Done"), theme.HomeIcon(), leave(e.sh.home))
	info := container.NewVBox(head, widget.NewLabel(tr("Application number")), no, name, pdf)
	body := container.NewBorder(nil, container.NewHBox(layout.NewSpacer(), v.done, v.next), nil, nil,
		container.NewCenter(container.NewHBox(jpegImage(e.result.Portrait, 240, 320), info, qr)))
	e.stepView = v
	e.sh.setCurrent(v)
	e.sh.show(e.frame(4, body))
	e.setKeys(v.next.OnTapped, v.done.OnTapped)
}
