package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/internal/printer"
)

// printerScreen is the technician's choice of the receipt printer among the CUPS queues.
type printerScreen struct {
	sh      *shell
	content fyne.CanvasObject
	pick    *widget.Select
	current *widget.Label
	status  *widget.Label
	save    *widget.Button
	// loaded is signalled after each load of the queue list (tests).
	loaded chan struct{}
	def    string
}

func newPrinterScreen(sh *shell) *printerScreen {
	p := &printerScreen{sh: sh, loaded: make(chan struct{}, 4)}
	p.current = widget.NewLabel("")
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord
	p.pick = widget.NewSelect(nil, nil)
	p.pick.PlaceHolder = tr("Choose a printer")
	p.save = widget.NewButtonWithIcon(tr("Use this printer for receipts"), theme.DocumentSaveIcon(), p.doSave)
	p.save.Importance = widget.HighImportance
	refresh := widget.NewButtonWithIcon(tr("Refresh"), theme.ViewRefreshIcon(), p.load)
	head := widget.NewLabelWithStyle(tr("Receipt printer"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	help := widget.NewLabel(tr("Receipts print through CUPS. Add the printer to CUPS first (its web page http://localhost:631 or lpadmin), then choose it here."))
	help.Wrapping = fyne.TextWrapWord
	p.content = container.NewVBox(head, help, p.current, container.NewBorder(nil, nil, nil, refresh, p.pick), p.save, p.status)
	p.load()
	return p
}

// load reads the station's setting and the CUPS queues (in the background).
func (p *printerScreen) load() {
	sh := p.sh
	cur, err := enroll.ReceiptPrinter(sh.station)
	if err != nil {
		p.status.SetText(errText(err))
	}
	p.showCurrent(cur)
	go func() {
		names, def, err := printer.Queues(sh.ctx)
		ui(func() {
			p.def = def
			if err != nil {
				p.status.SetText(printErrText(err))
			} else if len(names) == 0 {
				p.status.SetText(tr("CUPS has no printers yet."))
			} else {
				p.status.SetText("")
			}
			p.pick.SetOptions(names)
			if cur != "" {
				p.pick.SetSelected(cur)
			} else if def != "" {
				p.pick.SetSelected(def)
			}
			p.loaded <- struct{}{}
		})
	}()
}

func (p *printerScreen) showCurrent(q string) {
	if q == "" {
		p.current.SetText(tr("Receipts go to: %s", tr("the default printer")))
		return
	}
	p.current.SetText(tr("Receipts go to: %s", q))
}

func (p *printerScreen) doSave() {
	q := p.pick.Selected
	if q == "" {
		p.status.SetText(tr("Choose a printer first."))
		return
	}
	if err := enroll.SetReceiptPrinter(p.sh.station, p.sh.sess, q); err != nil {
		p.status.SetText(errText(err))
		return
	}
	p.showCurrent(q)
	p.status.SetText(tr("Saved."))
}
