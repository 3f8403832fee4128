package app

import (
	"image"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/vault"
)

// enrollment is one enrollment in progress: the wizard's state across its four steps.
// It lives on the shell's screen, so an idle lock (which keeps the screen) keeps it.
type enrollment struct {
	sh      *shell
	details enroll.Details
	appNo   string
	result  *enroll.Capture // set when a capture is accepted
	review  *enroll.Review  // built from result
	savedID string          // vault enrollment ID once submitted
	saved   *vault.Enrollment
	// receiptPDF is the receipt (kept in memory only), receiptPage its rendering.
	receiptPDF  []byte
	receiptPage image.Image

	camera   string // camera spec in use
	attempts int    // failed capture attempts so far

	step int // 1..4
	// stepView is the controller of the step on show (tests reach it through sh.current).
	stepView any
}

// wizardSteps are the step titles, in order.
func wizardSteps() []string {
	return []string{tr("1 Details"), tr("2 Capture"), tr("3 Review"), tr("4 Receipt")}
}

// startEnrollment opens the wizard on a new enrollment.
func (sh *shell) startEnrollment() {
	// Refuse before the citizen's details are typed, not when the enrollment is saved:
	// the clerk's home says why ("Next citizen" on the receipt goes back to it).
	if h, ok := sh.current.(*clerkHome); ok {
		if !h.checkSpace(sh) {
			return
		}
	} else if sh.station.RoomForEnrollment() != nil {
		sh.home()
		return
	}
	e := &enrollment{sh: sh}
	e.showDetails()
}

// frame puts a step's content under the wizard's step bar.
func (e *enrollment) frame(step int, content fyne.CanvasObject) fyne.CanvasObject {
	e.step = step
	var steps []fyne.CanvasObject
	for i, s := range wizardSteps() {
		l := widget.NewLabel(s)
		if i+1 == step {
			l.TextStyle = fyne.TextStyle{Bold: true}
			l.Importance = widget.HighImportance
		} else {
			l.Importance = widget.LowImportance
		}
		steps = append(steps, l)
	}
	bar := container.NewHBox(steps...)
	if e.appNo != "" {
		bar.Add(layoutSpacer())
		bar.Add(widget.NewLabelWithStyle(tr("Application")+" "+e.appNo, fyne.TextAlignTrailing, fyne.TextStyle{Bold: true}))
	}
	return container.NewBorder(container.NewVBox(bar, widget.NewSeparator()), nil, nil, nil, content)
}

// setKeys makes Enter and Esc (when no entry has the focus) run the step's actions.
func (e *enrollment) setKeys(enter, esc func()) {
	e.sh.win.Canvas().SetOnTypedKey(func(k *fyne.KeyEvent) {
		e.sh.touch()
		switch k.Name {
		case fyne.KeyReturn, fyne.KeyEnter:
			if enter != nil {
				enter()
			}
		case fyne.KeyEscape:
			if esc != nil {
				esc()
			}
		}
	})
}
