package app

import (
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// showIdleWarning shows (on) or withdraws the strip saying the station locks soon
// (UI thread). Any activity withdraws it (idleLock.touch).
func (sh *shell) showIdleWarning(on bool) {
	r, ok := sh.win.Content().(*activityRoot)
	if !ok {
		return
	}
	if !on {
		r.warning.Hide()
		r.warning.Objects = nil
		r.Refresh()
		sh.emit("idle-warning", false)
		return
	}
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameWarning))
	text := widget.NewLabelWithStyle(tr("This station locks in %d seconds. Move the mouse or press a key to keep working.", int(sh.idle.warnBefore.Seconds())),
		fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	r.warning.Objects = []fyne.CanvasObject{bg, text}
	r.warning.Show()
	r.Refresh()
	sh.emit("idle-warning", true)
}

// closeDialogs hides every pop-up and dialog over the window (before the lock screen), so
// nothing typed into one can be submitted over, or after, the lock: the dialog's action
// is dropped, as if cancelled.
func (sh *shell) closeDialogs() {
	ov := sh.win.Canvas().Overlays()
	for top := ov.Top(); top != nil; top = ov.Top() {
		top.Hide()
		if ov.Top() == top {
			ov.Remove(top)
		}
	}
}

// dialogShown instruments a dialog just shown, so that typing and taps in it count as
// activity from the first key (UI thread). Dialogs shown elsewhere are found by
// watchDialogs within half a second.
func (sh *shell) dialogShown() { sh.act.walk(sh.win.Canvas()) }

// watchDialogs instruments pop-ups as they open, wherever they come from (file dialogs,
// forms), until ctx ends.
func (sh *shell) watchDialogs() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-sh.ctx.Done():
			return
		case <-t.C:
			ui(func() {
				c := sh.win.Canvas()
				sh.act.mu.Lock()
				changed := len(c.Overlays().List()) != sh.act.overlays
				sh.act.mu.Unlock()
				if changed {
					sh.act.walk(c)
				}
			})
		}
	}
}
