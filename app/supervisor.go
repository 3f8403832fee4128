package app

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // portraits are JPEG
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/vault"
)

// supervisorScreens are the supervisor's tabs of the home screen.
func supervisorScreens() []roleScreen {
	return []roleScreen{
		{Role: vault.RoleSupervisor, Title: tr("Review queue"), Icon: theme.ListIcon(),
			Make: func(sh *shell) fyne.CanvasObject { return newReviewQueue(sh).content }},
		{Role: vault.RoleSupervisor, Title: tr("Batches & export"), Icon: theme.UploadIcon(),
			Make: func(sh *shell) fyne.CanvasObject { return newBatchScreen(sh).content }},
		{Role: vault.RoleSupervisor, Title: tr("Dashboard"), Icon: theme.GridIcon(),
			Make: func(sh *shell) fyne.CanvasObject { return newDashboard(sh).content }},
		{Role: vault.RoleSupervisor, Title: tr("Audit log"), Icon: theme.DocumentIcon(),
			Make: func(sh *shell) fyne.CanvasObject { return newAuditScreen(sh).content }},
	}
}

// reviewQueue is the supervisor's pending queue with the selected enrollment's detail.
type reviewQueue struct {
	sh      *shell
	content fyne.CanvasObject

	all   []enroll.QueueItem // as loaded
	rows  []enroll.QueueItem // filtered and sorted, as shown
	table *widget.Table

	filter   *widget.Entry
	flagged  *widget.Check
	sortBy   *widget.Select
	summary  *widget.Label
	cleanBtn *widget.Button

	detail   *fyne.Container
	selected string
	status   *widget.Label // outcome of the last action
}

var queueSorts = []struct{ key, label string }{
	{"time", "Oldest first"}, {"score", "Lowest quality first"}, {"name", "Name"}, {"clerk", "Clerk"}, {"application", "Application number"},
}

func newReviewQueue(sh *shell) *reviewQueue {
	q := &reviewQueue{sh: sh}
	q.filter = widget.NewEntry()
	q.filter.SetPlaceHolder(tr("Filter by name, application number or clerk"))
	q.filter.OnChanged = func(string) { q.apply() }
	q.flagged = widget.NewCheck(tr("Flagged only"), func(bool) { q.apply() })
	var labels []string
	for _, s := range queueSorts {
		labels = append(labels, tr(s.label))
	}
	q.sortBy = widget.NewSelect(labels, nil)
	q.sortBy.SetSelectedIndex(0)
	q.sortBy.OnChanged = func(string) { q.apply() }
	q.summary = widget.NewLabel("")
	q.status = widget.NewLabel("")
	q.status.Wrapping = fyne.TextWrapWord
	q.cleanBtn = widget.NewButtonWithIcon(tr("Approve all clean"), theme.ConfirmIcon(), q.askApproveClean)
	refresh := widget.NewButtonWithIcon("", theme.ViewRefreshIcon(), q.reload)

	cols := []string{tr("Application"), tr("Name"), tr("Clerk"), tr("Time"), tr("Score"), tr("Flags")}
	q.table = headedTable(cols, func() int { return len(q.rows) }, func(l *widget.Label, id widget.TableCellID) {
		l.SetText(queueCell(q.rows[id.Row], id.Col))
	})
	for i, w := range []float32{150, 160, 70, 60, 70, 150} { // "Score" needs 70 not to be clipped
		q.table.SetColumnWidth(i, w)
	}
	q.table.OnSelected = func(id widget.TableCellID) {
		sh.touch()
		if id.Row > 0 && id.Row <= len(q.rows) {
			q.showDetail(q.rows[id.Row-1].ID)
		}
	}
	q.detail = container.NewStack(container.NewCenter(widget.NewLabel(tr("Select an enrollment to review it."))))

	tools := container.NewBorder(nil, nil, nil, container.NewHBox(q.flagged, q.sortBy, refresh), q.filter)
	left := container.NewBorder(container.NewVBox(tools, container.NewHBox(q.summary, layout.NewSpacer(), q.cleanBtn)), nil, nil, nil, q.table)
	// The detail scrolls rather than widening the window past a 1366-pixel screen (the
	// portrait, frame and two-column quality list are wider than half of it).
	split := container.NewHSplit(left, container.NewBorder(nil, q.status, nil, nil, container.NewScroll(q.detail)))
	split.Offset = 0.5
	q.content = split
	q.reload()
	sh.current = q
	return q
}

func queueCell(it enroll.QueueItem, col int) string {
	switch col {
	case 0:
		return it.ApplicationNumber
	case 1:
		return it.Name
	case 2:
		return it.Clerk
	case 3:
		return it.CreatedAt.Local().Format("15:04")
	case 4:
		if it.Score < 0 {
			return "—"
		}
		return fmt.Sprint(it.Score)
	}
	var f []string
	if it.Forced {
		f = append(f, tr("forced"))
	}
	if it.Duplicate {
		f = append(f, tr("duplicate?"))
	}
	if it.Own {
		f = append(f, tr("yours"))
	}
	return strings.Join(f, ", ")
}

// reload reads the queue from the vault.
func (q *reviewQueue) reload() {
	items, err := enroll.PendingQueue(q.sh.station, q.sh.sess.Name)
	if err != nil {
		q.status.SetText(errText(err))
	}
	q.all = items
	q.apply()
}

// apply filters and sorts the loaded queue into the table.
func (q *reviewQueue) apply() {
	q.rows = enroll.QueueFilter{Text: q.filter.Text, FlaggedOnly: q.flagged.Checked}.Filter(q.all)
	if i := q.sortBy.SelectedIndex(); i >= 0 {
		enroll.SortQueue(q.rows, queueSorts[i].key, false)
	}
	clean := 0
	for _, it := range q.all {
		if it.Clean() {
			clean++
		}
	}
	q.summary.SetText(tr("%d pending, %d clean", len(q.all), clean))
	if clean == 0 {
		q.cleanBtn.Disable()
	} else {
		q.cleanBtn.Enable()
	}
	q.table.UnselectAll()
	q.table.Refresh()
}

// showDetail shows one enrollment: portrait, quality report, duplicates, actions.
func (q *reviewQueue) showDetail(id string) {
	q.selected = id
	e, err := q.sh.station.Enrollment(id)
	if err != nil {
		q.status.SetText(errText(err))
		return
	}
	qs, _ := enroll.ParseQuality(e.Quality)
	dups, err := enroll.Duplicates(q.sh.station, id, enroll.ReviewCandidates)
	if err != nil {
		q.status.SetText(errText(err))
	}

	head := widget.NewLabelWithStyle(enroll.FullName(e.Demographics), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.SizeName = theme.SizeNameSubHeadingText
	d := e.Demographics
	facts := widget.NewLabel(fmt.Sprintf("%s %s\n%s %s · %s · %s\n%s %s · %s %s",
		tr("Application"), d.ApplicationNumber, tr("Born"), d.DateOfBirth, d.Sex, d.Nationality,
		tr("Captured by"), e.CapturedBy, tr("at"), e.CreatedAt.Local().Format("2006-01-02 15:04")))
	facts.Wrapping = fyne.TextWrapWord

	frame, err := q.sh.station.EnrollmentFrame(id)
	if err != nil {
		q.status.SetText(errText(err))
	}
	caption := func(s string) *widget.Label {
		return widget.NewLabelWithStyle(s, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	}
	// The portrait (what the issuer receives) beside the frame it was cropped from (kept
	// on this station only), so the supervisor can judge the crop, background and pose.
	images := container.NewHBox(
		container.NewVBox(caption(tr("ICAO portrait")), portraitImage(e.Portrait, 165, 210)),
		container.NewVBox(caption(tr("Captured frame")), jpegView(frame, 280, 210, tr("no frame kept"))),
	)

	quality := qualityList(qs, e.Capture.Extra[enroll.ExtraForcedReason])

	var dupBox fyne.CanvasObject = widget.NewLabel(tr("No similar faces on this station."))
	if len(dups) > 0 {
		row := container.NewHBox()
		for _, c := range dups {
			other, _ := q.sh.station.Enrollment(c.ID)
			var img []byte
			if other != nil {
				img = other.Portrait
			}
			label := fmt.Sprintf("%s\n%s\n%s %.0f", c.Name, c.ApplicationNumber, tr("score"), c.Score)
			if c.Match {
				label += " — " + tr("LIKELY SAME PERSON")
			}
			l := widget.NewLabel(label)
			if c.Match {
				l.Importance = widget.DangerImportance
			}
			row.Add(container.NewVBox(portraitImage(img, 90, 115), l))
		}
		dupBox = container.NewHScroll(row)
	}

	own := e.CapturedBy == q.sh.sess.Name
	approve := widget.NewButtonWithIcon(tr("Approve…"), theme.ConfirmIcon(), func() { q.askApprove([]string{id}) })
	approve.Importance = widget.HighImportance
	reasons := widget.NewSelect(enroll.RejectReasons, nil)
	reasons.PlaceHolder = tr("Reason to reject")
	reject := widget.NewButtonWithIcon(tr("Reject"), theme.CancelIcon(), func() { q.reject(id, reasons.Selected) })
	reject.Importance = widget.DangerImportance
	actions := container.NewHBox(approve, layout.NewSpacer(), reasons, reject)
	if own {
		approve.Disable()
		reject.Disable()
		warn := widget.NewLabel(tr("You captured this enrollment: another supervisor must decide on it."))
		warn.Importance = widget.WarningImportance
		actions = container.NewVBox(warn, actions)
	}
	if e.Status != vault.StatusPending {
		approve.Disable()
		reject.Disable()
	}

	top := container.NewVBox(head, container.NewBorder(nil, nil, images, nil, facts), widget.NewSeparator(),
		widget.NewLabelWithStyle(tr("Possible duplicates on this station"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), dupBox)
	body := container.NewBorder(top, actions, nil, nil, container.NewVScroll(quality))
	q.detail.Objects = []fyne.CanvasObject{body}
	q.detail.Refresh()
}

// portraitImage decodes a JPEG for display; a missing or purged portrait shows a frame.
func portraitImage(b []byte, w, h float32) fyne.CanvasObject {
	return jpegView(b, w, h, tr("no portrait"))
}

// jpegView decodes a JPEG for display at a minimum size; missing or undecodable bytes
// show an empty box saying missing.
func jpegView(b []byte, w, h float32, missing string) fyne.CanvasObject {
	if len(b) > 0 {
		if img, _, err := image.Decode(bytes.NewReader(b)); err == nil {
			ci := canvas.NewImageFromImage(img)
			ci.FillMode = canvas.ImageFillContain
			ci.SetMinSize(fyne.NewSize(w, h))
			return ci
		}
	}
	r := canvas.NewRectangle(theme.Color(theme.ColorNameInputBackground))
	r.SetMinSize(fyne.NewSize(w, h))
	return container.NewStack(r, container.NewCenter(widget.NewLabel(missing)))
}

// qualityList shows the quality report: score, failed measures first, then the rest.
func qualityList(q enroll.QualitySummary, forced string) fyne.CanvasObject {
	box := container.NewVBox()
	verdict := tr("Quality score %d — all mandatory checks passed", q.Score)
	imp := widget.SuccessImportance
	if q.Score < 0 {
		verdict, imp = tr("No quality report stored"), widget.WarningImportance
	} else if !q.Pass {
		verdict, imp = tr("Quality score %d — failed: %s", q.Score, strings.Join(q.Failed, ", ")), widget.DangerImportance
	}
	v := widget.NewLabelWithStyle(verdict, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	v.Importance = imp
	box.Add(v)
	if forced != "" {
		f := widget.NewLabel(tr("Forced capture — clerk's reason: %s", forced))
		f.Importance = widget.WarningImportance
		f.Wrapping = fyne.TextWrapWord
		box.Add(f)
	}
	grid := container.NewGridWithColumns(2)
	for _, m := range q.Measures {
		mark := "✓"
		if !m.Pass {
			mark = "✗"
		}
		l := widget.NewLabel(fmt.Sprintf("%s %s  %d", mark, m.ID, m.Score))
		if !m.Pass && m.Mandatory {
			l.Importance = widget.DangerImportance
		}
		grid.Add(l)
	}
	box.Add(grid)
	return box
}

// askApprove asks for the supervisor's password again, then approves ids with the TPM
// key it unlocks.
func (q *reviewQueue) askApprove(ids []string) {
	askPassword(q.sh, tr("Approve %d enrollment(s)", len(ids)), tr("Enter your password to sign the approval."), func(pw string) {
		q.approve(ids, pw)
	})
}

// approve re-authenticates the supervisor and approves ids (one signature each).
func (q *reviewQueue) approve(ids []string, pw string) error {
	sess, err := q.sh.station.Login(q.sh.sess.Name, pw)
	if err != nil {
		q.status.SetText(loginErrText(err))
		return err
	}
	n := 0
	for _, id := range ids {
		if _, err := q.sh.station.Approve(sess, id); err != nil {
			q.status.SetText(tr("Approved %d; stopped at %s: %s", n, id, approveErrText(err)))
			q.reload()
			return err
		}
		n++
	}
	q.status.SetText(tr("Approved %d enrollment(s).", n))
	q.detail.Objects = []fyne.CanvasObject{container.NewCenter(widget.NewLabel(tr("Select an enrollment to review it.")))}
	q.detail.Refresh()
	q.reload()
	return nil
}

func approveErrText(err error) string {
	if errors.Is(err, vault.ErrSelfApproval) {
		return tr("you captured it yourself; another supervisor must approve it")
	}
	return errText(err)
}

// askApproveClean approves every clean item after one password entry.
func (q *reviewQueue) askApproveClean() {
	var ids []string
	for _, it := range q.all {
		if it.Clean() {
			ids = append(ids, it.ID)
		}
	}
	if len(ids) == 0 {
		return
	}
	q.askApprove(ids)
}

// reject rejects id with a reason code.
func (q *reviewQueue) reject(id, reason string) error {
	if reason == "" {
		q.status.SetText(tr("Choose a reason before rejecting."))
		return errors.New("no reason")
	}
	if err := enroll.Reject(q.sh.station, q.sh.sess, id, reason); err != nil {
		q.status.SetText(errText(err))
		return err
	}
	q.status.SetText(tr("Rejected (%s).", reason))
	q.detail.Objects = []fyne.CanvasObject{container.NewCenter(widget.NewLabel(tr("Select an enrollment to review it.")))}
	q.detail.Refresh()
	q.reload()
	return nil
}

// askPassword shows a password re-entry dialog and calls ok with the password.
func askPassword(sh *shell, title, text string, ok func(pw string)) {
	pw := widget.NewPasswordEntry()
	msg := widget.NewLabel(text)
	msg.Wrapping = fyne.TextWrapWord
	items := []*widget.FormItem{widget.NewFormItem("", msg), widget.NewFormItem(tr("Password"), pw)}
	d := dialog.NewForm(title, tr("Sign"), tr("Cancel"), items, func(confirmed bool) {
		sh.touch()
		if confirmed {
			ok(pw.Text)
		}
	}, sh.win)
	pw.OnSubmitted = func(string) { d.Submit() }
	d.Resize(fyne.NewSize(460, 220))
	d.Show()
	sh.win.Canvas().Focus(pw)
}
