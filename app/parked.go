package app

import (
	"sort"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/vault"
)

// parkedWork is an enrollment in progress whose clerk was idle-locked and another
// operator logged in: it waits, in memory, for its clerk (never shown to anyone else).
type parkedWork struct {
	content fyne.CanvasObject
	cur     any
}

// inProgress says whether a screen controller is an enrollment not yet submitted.
func inProgress(cur any) bool {
	switch cur.(type) {
	case *detailsForm, *captureView, *reviewView:
		return true
	}
	return false
}

// park keeps user's work in progress for when user logs in again.
func (sh *shell) park(user string, content fyne.CanvasObject, cur any) {
	if sh.parked == nil {
		sh.parked = map[string]parkedWork{}
	}
	sh.parked[user] = parkedWork{content, cur}
}

// resumeParked shows s's parked work, if any, and reports whether it did.
func (sh *shell) resumeParked(s *vault.Session) bool {
	p, ok := sh.parked[s.Name]
	if !ok {
		return false
	}
	delete(sh.parked, s.Name)
	sh.restoreWork(p.content, p.cur)
	return true
}

// restoreWork puts a kept screen back: the capture step restarts its camera, the review
// is rebuilt from its capture, any other screen comes back as it was, with its keys.
func (sh *shell) restoreWork(content fyne.CanvasObject, cur any) {
	switch v := cur.(type) {
	case *captureView:
		v.e.showCapture()
		return
	case *reviewView:
		v.e.showReview()
		return
	case *detailsForm:
		v.e.setKeys(v.submit, v.e.cancel)
	}
	sh.current = cur
	sh.win.SetContent(content)
	sh.act.walk(sh.win.Canvas())
	sh.emit("screen", cur)
}

// parkedNotice tells the operator on show that other clerks' enrollments are parked on
// this station (nil when none are): they come back when those clerks log in.
func (sh *shell) parkedNotice() fyne.CanvasObject {
	var who []string
	for name := range sh.parked {
		if sh.sess == nil || name != sh.sess.Name {
			who = append(who, name)
		}
	}
	if len(who) == 0 {
		return nil
	}
	sort.Strings(who)
	text := widget.NewLabel(tr("An unfinished enrollment of %s is parked on this station. It comes back when that clerk logs in.", strings.Join(who, ", ")))
	text.Wrapping = fyne.TextWrapWord
	sh.parkedLabel = text
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameHover))
	return container.NewStack(bg, container.NewBorder(nil, nil, widget.NewIcon(theme.InfoIcon()), nil, text))
}
