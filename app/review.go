package app

import (
	"bytes"
	"fmt"
	"image"
	_ "image/jpeg" // decoding portraits
	"sort"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/biometrics"
	"enrollstation/enroll"
)

// reviewView is step 3: portrait beside the frame, quality report, duplicates, consent.
type reviewView struct {
	e       *enrollment
	consent *widget.Check
	submit  *widget.Button
	retake  *widget.Button
	dups    *fyne.Container
	msg     *widget.Label
	busy    bool
	// ready is closed when the duplicate search has finished (for tests).
	ready chan struct{}
}

// jpegImage shows JPEG bytes at a minimum size.
func jpegImage(b []byte, w, h float32) *canvas.Image {
	var img image.Image = image.NewRGBA(image.Rect(0, 0, 3, 4))
	if m, _, err := image.Decode(bytes.NewReader(b)); err == nil {
		img = m
	}
	ci := canvas.NewImageFromImage(img)
	ci.FillMode = canvas.ImageFillContain
	ci.SetMinSize(fyne.NewSize(w, h))
	return ci
}

func (e *enrollment) showReview() {
	c := e.result
	v := &reviewView{e: e, ready: make(chan struct{})}
	portrait := jpegImage(c.Portrait, 255, 340)
	frame := jpegImage(c.Frame, 400, 225)
	imgs := container.NewHBox(
		container.NewVBox(widget.NewLabelWithStyle(tr("ICAO portrait"), fyne.TextAlignCenter, fyne.TextStyle{Bold: true}), portrait),
		container.NewVBox(widget.NewLabelWithStyle(tr("Captured frame"), fyne.TextAlignCenter, fyne.TextStyle{Bold: true}), frame, v.summary()),
	)

	v.dups = container.NewVBox(widget.NewLabel(tr("Searching this station for possible duplicates…")))
	v.consent = widget.NewCheck(tr("The citizen has read the privacy notice and consents to this enrollment."), func(ok bool) {
		e.sh.touch()
		v.update()
		if ok {
			// Hand the keys back to the window so Enter submits (buttons take only Space).
			e.sh.win.Canvas().Unfocus()
		}
	})
	v.submit = widget.NewButtonWithIcon(tr("Submit to supervisor"), theme.ConfirmIcon(), v.doSubmit)
	v.submit.Importance = widget.HighImportance
	v.retake = widget.NewButtonWithIcon(tr("Retake photo"), theme.MediaReplayIcon(), func() {
		e.attempts++
		e.result, e.review = nil, nil
		e.showCapture()
	})
	v.msg = widget.NewLabel("")
	v.msg.Importance = widget.DangerImportance
	v.msg.Wrapping = fyne.TextWrapWord
	v.update()

	dupHead := widget.NewLabelWithStyle(tr("Possible duplicates on this station"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	right := container.NewBorder(
		widget.NewLabelWithStyle(tr("Quality report"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}),
		container.NewVBox(widget.NewSeparator(), dupHead, v.dups), nil, nil,
		qualityTable(c.Report))
	left := container.NewVBox(imgs, widget.NewSeparator(), v.consent, v.msg)
	bottom := container.NewHBox(v.retake, layout.NewSpacer(), widget.NewLabel(tr("Tick consent, then Enter submits.")), v.submit)
	body := container.NewBorder(nil, bottom, container.NewGridWrap(fyne.NewSize(680, 560), left), nil, right)
	e.stepView = v
	e.sh.setCurrent(v)
	e.sh.show(e.frame(3, body))
	e.setKeys(v.doSubmit, nil)
	e.sh.win.Canvas().Focus(v.consent)
	v.search()
}

// summary is the headline of the capture: pass or forced, score.
func (v *reviewView) summary() fyne.CanvasObject {
	c := v.e.result
	var l *widget.Label
	switch {
	case c.Forced:
		l = widget.NewLabel(tr("FORCED capture (score %d). Reason: %s", c.Report.Score, c.Reason))
		l.Importance = widget.DangerImportance
	case c.Report.Pass:
		l = widget.NewLabel(tr("All checks pass (score %d).", c.Report.Score))
		l.Importance = widget.SuccessImportance
	default:
		l = widget.NewLabel(tr("Some checks fail (score %d).", c.Report.Score))
		l.Importance = widget.WarningImportance
	}
	l.Wrapping = fyne.TextWrapWord
	return l
}

// qualityTable lists every measure with its value, limit and result, mandatory first.
func qualityTable(r *biometrics.Report) fyne.CanvasObject {
	ms := append([]biometrics.Measure(nil), r.Measures...)
	sort.SliceStable(ms, func(i, j int) bool { return ms[i].Mandatory && !ms[j].Mandatory })
	heads := []string{tr("Measure"), tr("Value"), tr("Limit"), tr("Result")}
	t := headedTable(heads, func() int { return len(ms) }, func(l *widget.Label, id widget.TableCellID) {
		m := ms[id.Row]
		switch id.Col {
		case 0:
			l.SetText(string(m.ID))
		case 1:
			l.SetText(fmt.Sprintf("%.3g %s", m.Raw, m.Unit))
		case 2:
			l.SetText(m.Limit)
		case 3:
			switch {
			case m.Pass:
				l.Importance = widget.SuccessImportance
				l.SetText(tr("pass"))
			case m.Mandatory:
				l.Importance = widget.DangerImportance
				l.SetText(tr("FAIL"))
			default:
				l.Importance = widget.WarningImportance
				l.SetText(tr("advice"))
			}
		}
	})
	for i, w := range []float32{270, 190, 110, 70} {
		t.SetColumnWidth(i, w)
	}
	return t
}

// search runs the duplicate search off the UI thread.
func (v *reviewView) search() {
	sh, c := v.e.sh, v.e.result
	v.busy = true
	v.update()
	go func() {
		r, err := enroll.ReviewCapture(sh.station, c, enroll.ReviewCandidates)
		ui(func() {
			defer close(v.ready)
			v.busy = false
			if err != nil {
				v.dups.Objects = []fyne.CanvasObject{widget.NewLabel(tr("The duplicate search failed: %s", err.Error()))}
				v.dups.Refresh()
				v.update()
				return
			}
			v.e.review = r
			v.showDuplicates(r)
			v.update()
		})
	}()
}

func (v *reviewView) showDuplicates(r *enroll.Review) {
	if len(r.Duplicates) == 0 {
		v.dups.Objects = []fyne.CanvasObject{widget.NewLabel(tr("None: no enrollment on this station looks like this person."))}
		v.dups.Refresh()
		return
	}
	var rows []fyne.CanvasObject
	if r.Suspect() {
		warn := widget.NewLabel(tr("Possible duplicate: check the citizen's documents. The supervisor will see this."))
		warn.Importance = widget.DangerImportance
		warn.Wrapping = fyne.TextWrapWord
		rows = append(rows, warn)
	}
	for _, d := range r.Duplicates {
		score := widget.NewLabel(tr("similarity %.0f / 100", d.Score))
		if d.Match.Match {
			score.Importance = widget.DangerImportance
		}
		rows = append(rows, container.NewHBox(jpegImage(d.Portrait, 60, 80),
			container.NewVBox(widget.NewLabel(d.Name), widget.NewLabel(d.AppNo+"  "+statusText(d.Status)), score)))
	}
	v.dups.Objects = rows
	v.dups.Refresh()
}

func (v *reviewView) update() {
	if v.consent.Checked && !v.busy && v.e.review != nil {
		v.submit.Enable()
	} else {
		v.submit.Disable()
	}
}

// doSubmit saves the enrollment as pending, makes the receipt and shows it.
func (v *reviewView) doSubmit() {
	e := v.e
	e.sh.touch()
	if v.busy || e.review == nil {
		return
	}
	if !v.consent.Checked {
		v.msg.SetText(tr("Tick the consent box first."))
		return
	}
	v.busy = true
	v.update()
	sh, d, no, r := e.sh, e.details, e.appNo, e.review
	sess := sh.sess
	go func() {
		saved, err := enroll.Submit(sh.station, sess, d, no, r, true)
		var path string
		var rerr error
		if err == nil {
			path, rerr = sh.writeReceipt(saved, r.Capture)
		}
		ui(func() {
			v.busy = false
			if err != nil {
				v.msg.SetText(tr("Could not submit: %s", errText(err)))
				v.update()
				return
			}
			e.savedID = saved.ID
			e.receipt = path
			e.showReceipt(rerr)
		})
	}()
}
