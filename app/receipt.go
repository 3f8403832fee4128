package app

import (
	"errors"
	"fmt"
	"image"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/internal/printer"
	"enrollstation/internal/receipt"
	"enrollstation/vault"
)

// receiptView is step 4: the receipt itself as it prints, and Print.
type receiptView struct {
	e      *enrollment
	page   fyne.CanvasObject // the rendered receipt (or why it cannot be shown)
	print  *widget.Button
	status *widget.Label
	done   *widget.Button
	next   *widget.Button
	// printed receives the CUPS job ID (or the error) of each print (tests).
	printed chan error
	job     string
}

// receiptText is the receipt's wording in the screen language.
func receiptText() enroll.ReceiptText {
	return enroll.ReceiptText{
		Title: tr("Enrollment receipt"),
		Note:  tr("Keep this receipt. Quote the application number when you collect your card."),
		Labels: receipt.Labels{
			ApplicationNumber: tr("Application number"), Name: tr("Name"), DateOfBirth: tr("Date of birth"),
			Station: tr("Station"), Clerk: tr("Clerk"), Date: tr("Date"),
		},
	}
}

// receiptPageHeight is the height of the receipt as drawn on the screen (A5 portrait).
const receiptPageHeight = 520

// makeReceipt builds the receipt PDF of a submitted enrollment and renders it for the
// screen. The PDF carries the citizen's name and portrait, so it stays in memory: it
// goes to CUPS through lp's standard input and is never written to disk by the station.
// Safe from any goroutine.
func (sh *shell) makeReceipt(saved *vault.Enrollment) (pdf []byte, page image.Image, err error) {
	pdf, err = enroll.ReceiptPDF(sh.station, saved, receiptText())
	if err != nil {
		return nil, nil, err
	}
	page, err = receipt.Render(sh.ctx, pdf, receiptPageHeight*2)
	return pdf, page, err
}

// printErrText is the plain-language message for a failed print.
func printErrText(err error) string {
	var pe *printer.Error
	switch {
	case errors.Is(err, printer.ErrNoCUPS):
		return tr("Printing is not installed on this station (CUPS). Ask a technician.")
	case errors.Is(err, printer.ErrNoPrinter):
		return tr("No receipt printer is set up. A technician chooses it on the Printer tab.")
	case errors.As(err, &pe):
		return tr("The printer %s did not take the receipt: %s", pe.Printer, pe.Msg)
	}
	return errText(err)
}

func (e *enrollment) showReceipt(receiptErr error) {
	v := &receiptView{e: e, printed: make(chan error, 4)}
	head := widget.NewLabelWithStyle(tr("Submitted — waiting for the supervisor's approval"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.Importance = widget.SuccessImportance
	no := canvas.NewText(e.appNo, theme.Color(theme.ColorNameForeground))
	no.TextSize = 34
	no.TextStyle = fyne.TextStyle{Monospace: true}
	name := widget.NewLabel(fmt.Sprintf("%s  ·  %s", displayName(e.details.Demographics(e.appNo)), e.details.DateOfBirth))
	v.status = widget.NewLabel("")
	v.status.Wrapping = fyne.TextWrapWord
	v.print = widget.NewButtonWithIcon(tr("Print the receipt"), theme.DocumentPrintIcon(), v.doPrint)
	v.print.Importance = widget.HighImportance
	switch {
	case e.receiptPDF == nil:
		l := widget.NewLabel(tr("The receipt could not be made: %s", errText(receiptErr)))
		l.Importance = widget.DangerImportance
		l.Wrapping = fyne.TextWrapWord
		v.page = l
		v.print.Disable()
	case e.receiptPage == nil:
		// Printable, but not viewable (no renderer): say so where the page would be.
		l := widget.NewLabel(tr("The receipt cannot be shown here (%s), but it can be printed.", errText(receiptErr)))
		l.Wrapping = fyne.TextWrapWord
		v.page = l
	default:
		img := canvas.NewImageFromImage(e.receiptPage)
		img.FillMode = canvas.ImageFillContain
		b := e.receiptPage.Bounds()
		img.SetMinSize(fyne.NewSize(float32(receiptPageHeight)*float32(b.Dx())/float32(b.Dy()), receiptPageHeight))
		border := canvas.NewRectangle(theme.Color(theme.ColorNameBackground))
		border.StrokeColor = theme.Color(theme.ColorNameShadow)
		border.StrokeWidth = 1
		v.page = container.NewStack(border, img)
	}
	q := e.sh.settings().ReceiptPrinter
	if q == "" {
		q = tr("the default printer")
	}
	where := widget.NewLabel(tr("Printer: %s", q))
	v.next = widget.NewButtonWithIcon(tr("Next citizen"), theme.ContentAddIcon(), func() { e.sh.startEnrollment() })
	v.done = widget.NewButtonWithIcon(tr("Done"), theme.HomeIcon(), e.sh.home)
	info := container.NewVBox(head, widget.NewLabel(tr("Application number")), no, name, widget.NewSeparator(),
		where, v.print, v.status)
	body := container.NewBorder(nil, container.NewHBox(layout.NewSpacer(), v.done, v.next), nil, nil,
		container.NewCenter(container.NewHBox(v.page, container.NewGridWrap(fyne.NewSize(420, 0), info))))
	e.stepView = v
	e.sh.setCurrent(v)
	e.sh.show(e.frame(4, body))
	e.setKeys(v.next.OnTapped, v.done.OnTapped)
}

// doPrint sends the receipt to the station's receipt printer (audited by enroll).
func (v *receiptView) doPrint() {
	e := v.e
	sh := e.sh
	sh.touch()
	v.print.Disable()
	v.status.Importance = widget.MediumImportance
	v.status.SetText(tr("Printing…"))
	sess, saved, pdf := sh.sess, e.saved, e.receiptPDF
	go func() {
		job, err := enroll.PrintReceipt(sh.ctx, sh.station, sess, saved, pdf, "")
		ui(func() {
			v.print.Enable()
			if err != nil {
				v.status.Importance = widget.DangerImportance
				v.status.SetText(printErrText(err))
			} else {
				v.job = job
				v.status.Importance = widget.SuccessImportance
				v.status.SetText(tr("Sent to the printer (job %s). Hand the receipt to the citizen.", job))
				v.print.SetText(tr("Print again"))
			}
			v.printed <- err
		})
	}()
}
