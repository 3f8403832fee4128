package app

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/vault"
)

// clerkScreens are the clerk's tabs of the home screen.
func clerkScreens() []roleScreen {
	return []roleScreen{{
		Role:  vault.RoleClerk,
		Title: tr("Enrollments"),
		Icon:  theme.AccountIcon(),
		Make:  func(sh *shell) fyne.CanvasObject { return newClerkHome(sh).content },
	}}
}

// clerkHome lists today's enrollments by this clerk and starts new ones.
type clerkHome struct {
	content fyne.CanvasObject
	newBtn  *widget.Button
	space   *widget.Label // shown when the disk is too full for new enrollments
	rows    []*vault.Enrollment
}

// checkSpace shows why no enrollment can start when the disk is too full, and reports
// whether one can. The button stays enabled: every press checks again, so the clerk
// carries on as soon as a supervisor's export has freed space.
func (h *clerkHome) checkSpace(sh *shell) bool {
	err := sh.station.RoomForEnrollment()
	if err == nil {
		h.space.Hide()
		return true
	}
	h.space.SetText(errText(err))
	h.space.Show()
	return false
}

func newClerkHome(sh *shell) *clerkHome {
	h := &clerkHome{}
	rows, listErr := todaysEnrollments(sh)
	h.rows = rows
	h.newBtn = widget.NewButtonWithIcon(tr("New enrollment"), theme.ContentAddIcon(), func() { sh.startEnrollment() })
	h.newBtn.Importance = widget.HighImportance
	head := widget.NewLabelWithStyle(tr("Today's enrollments"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	count := widget.NewLabel(tr("%d today", len(h.rows)))

	list := headedTable([]string{tr("Time"), tr("Application number"), tr("Name"), tr("Status")}, func() int { return len(h.rows) }, func(l *widget.Label, id widget.TableCellID) {
		e := h.rows[id.Row]
		switch id.Col {
		case 0:
			l.SetText(e.CreatedAt.Local().Format("15:04"))
		case 1:
			l.SetText(e.Demographics.ApplicationNumber)
		case 2:
			l.SetText(displayName(e.Demographics))
		case 3:
			l.SetText(statusText(e.Status))
		}
	})
	for i, w := range []float32{90, 240, 420, 200} {
		list.SetColumnWidth(i, w)
	}
	empty := widget.NewLabel(tr("No enrollments yet today. Press Enter or “New enrollment” to start."))
	var body fyne.CanvasObject = list
	if len(h.rows) == 0 {
		body = container.NewCenter(empty)
	}
	h.space = widget.NewLabel("")
	h.space.Importance = widget.DangerImportance
	h.space.Wrapping = fyne.TextWrapWord
	if !h.checkSpace(sh) {
		empty.SetText(tr("No enrollments yet today."))
	}
	if listErr != nil {
		empty.SetText(errText(listErr))
		empty.Importance = widget.DangerImportance
	}
	top := container.NewVBox(container.NewHBox(head, count, layout.NewSpacer(), h.newBtn), h.space)
	h.content = container.NewBorder(top, nil, nil, nil, body)
	sh.setCurrent(h)
	// Enter starts a new enrollment (keyboard-first counter work).
	sh.win.Canvas().SetOnTypedKey(func(k *fyne.KeyEvent) {
		sh.touch()
		if k.Name == fyne.KeyReturn || k.Name == fyne.KeyEnter {
			if sh.current == h {
				sh.startEnrollment()
			}
		}
	})
	return h
}

// todaysEnrollments are the enrollments this clerk made today, newest first.
func todaysEnrollments(sh *shell) ([]*vault.Enrollment, error) {
	if sh.station == nil || sh.sess == nil {
		return nil, nil
	}
	return enroll.ClerkDay(sh.station, sh.sess.Name, sh.now())
}

// displayName is how a citizen's name is shown: family name first, as on the card.
func displayName(d vault.Demographics) string { return enroll.DisplayName(d) }

// statusText is the plain-language status.
func statusText(s vault.Status) string {
	switch s {
	case vault.StatusDraft:
		return tr("Draft")
	case vault.StatusPending:
		return tr("Waiting for supervisor")
	case vault.StatusApproved:
		return tr("Approved")
	case vault.StatusRejected:
		return tr("Rejected")
	case vault.StatusExported:
		return tr("Sent to issuer")
	case vault.StatusPurged:
		return tr("Completed")
	}
	return string(s)
}

// layoutSpacer fills space in a box.
func layoutSpacer() fyne.CanvasObject { return layout.NewSpacer() }
