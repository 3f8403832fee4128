package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// leaveAsk is the question asked before an enrollment in capture or review is left by
// Home or Log out: the capture would be thrown away.
type leaveAsk struct {
	dlg         dialog.Dialog
	leave, stay *widget.Button
}

// unsavedWork says whether the screen on show holds a capture not yet submitted.
func (sh *shell) unsavedWork() bool {
	switch sh.current.(type) {
	case *captureView, *reviewView:
		return true
	}
	return false
}

// leaveWork runs next (home or logout) at once when nothing would be lost, else after
// the operator confirms. Staying keeps the screen as it was.
func (sh *shell) leaveWork(next func()) {
	sh.touch()
	if !sh.unsavedWork() {
		next()
		return
	}
	a := &leaveAsk{}
	msg := widget.NewLabel(tr("This enrollment has not been submitted. If you leave now, its photo and details are discarded."))
	msg.Wrapping = fyne.TextWrapWord
	a.stay = widget.NewButtonWithIcon(tr("Stay"), theme.NavigateBackIcon(), func() { a.dlg.Hide() })
	a.stay.Importance = widget.HighImportance
	a.leave = widget.NewButtonWithIcon(tr("Discard and leave"), theme.DeleteIcon(), func() {
		a.dlg.Hide()
		if cv, ok := sh.current.(*captureView); ok {
			cv.leave()
		}
		next()
	})
	a.leave.Importance = widget.DangerImportance
	body := container.NewVBox(msg, container.NewHBox(layoutSpacer(), a.leave, a.stay))
	a.dlg = dialog.NewCustomWithoutButtons(tr("Leave this enrollment?"), container.NewGridWrap(fyne.NewSize(460, 130), body), sh.win)
	sh.emit("ask-leave", a)
	a.dlg.Show()
	sh.dialogShown()
}
