package app

import (
	"context"
	"errors"
	"sync"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/selftest"
)

// diagnostics is the screen that runs the station's selftest and lists each check with
// a pass/fail mark, what it found, and for a failure what to do about it.
type diagnostics struct {
	checks func() []selftest.Check
	onDone func([]selftest.Result) // called on the UI thread when a run ends; may be nil

	summary *widget.Label
	rows    *fyne.Container
	rerun   *widget.Button

	mu      sync.Mutex
	running bool
	results []selftest.Result
}

func newDiagnostics(checks func() []selftest.Check) *diagnostics {
	d := &diagnostics{checks: checks}
	d.summary = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	d.rows = container.NewVBox()
	d.rerun = widget.NewButtonWithIcon(tr("Run checks"), theme.ViewRefreshIcon(), func() { d.Start(context.Background()) })
	return d
}

// Content is the screen's widget tree.
func (d *diagnostics) Content() fyne.CanvasObject {
	title := widget.NewLabelWithStyle(tr("Station diagnostics"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	head := container.NewBorder(nil, nil, nil, d.rerun, container.NewVBox(title, d.summary))
	return container.NewBorder(head, nil, nil, nil, container.NewVScroll(d.rows))
}

// Start runs the checks in the background; rows appear as each check finishes.
// A second call while checks run does nothing.
func (d *diagnostics) Start(ctx context.Context) {
	d.mu.Lock()
	if d.running {
		d.mu.Unlock()
		return
	}
	d.running = true
	d.results = nil
	d.mu.Unlock()

	checks := d.checks()
	d.rows.RemoveAll()
	d.rerun.Disable()
	d.summary.SetText(tr("Running %d checks…", len(checks)))
	go func() {
		selftest.Run(ctx, checks, func(r selftest.Result) {
			d.mu.Lock()
			d.results = append(d.results, r)
			d.mu.Unlock()
			ui(func() { d.rows.Add(resultRow(r)) })
		})
		d.mu.Lock()
		d.running = false
		rs := append([]selftest.Result(nil), d.results...)
		d.mu.Unlock()
		ui(func() {
			d.summary.SetText(summaryText(rs))
			d.rerun.Enable()
			if d.onDone != nil {
				d.onDone(rs)
			}
		})
	}()
}

// Results returns the results so far (for the diagnostics report and tests).
func (d *diagnostics) Results() []selftest.Result {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]selftest.Result(nil), d.results...)
}

func summaryText(rs []selftest.Result) string {
	failed, warned := 0, 0
	for _, r := range rs {
		if !r.OK {
			failed++
		} else if r.Warning {
			warned++
		}
	}
	if failed == 0 && warned > 0 {
		return tr("All %d checks passed, %d with a warning: the station works, but follow the hint below.", len(rs), warned)
	}
	if failed == 0 {
		return tr("All %d checks passed. The station is ready.", len(rs))
	}
	return tr("%d of %d checks failed. Follow the hints below, then run the checks again.", failed, len(rs))
}

// checkTitle is a selftest check's name as the technician reads it on screen (the CLI
// prints the short names).
func checkTitle(name string) string {
	switch name {
	case "models":
		return tr("Face models")
	case "face engine":
		return tr("Face engine")
	case "opencv":
		return "OpenCV"
	case "blas":
		return tr("Maths library (BLAS)")
	case "camera":
		return tr("Camera")
	case "tpm":
		return "TPM"
	case "data dir":
		return tr("Data folder")
	case "store":
		return tr("Encrypted store")
	}
	return name
}

// trText words a selftest message in the screens' language: its format through tr, its
// arguments kept as data (an error argument worded by selftest is translated in turn).
func trText(t selftest.Text) string {
	args := make([]any, len(t.Args))
	for i, a := range t.Args {
		var te *selftest.TextError
		if err, ok := a.(error); ok && errors.As(err, &te) && te.Error() == err.Error() {
			a = trText(te.Text)
		} else if t, ok := a.(selftest.Text); ok {
			a = trText(t)
		}
		args[i] = a
	}
	if t.Format == "%v" && len(args) == 1 {
		if err, ok := args[0].(error); ok {
			return errText(err)
		}
	}
	return tr(t.Format, args...)
}

func resultRow(r selftest.Result) fyne.CanvasObject {
	icon := widget.NewIcon(theme.NewSuccessThemedResource(theme.ConfirmIcon()))
	status := tr("PASS")
	switch {
	case !r.OK:
		icon = widget.NewIcon(theme.NewErrorThemedResource(theme.CancelIcon()))
		status = tr("FAIL")
	case r.Warning:
		icon = widget.NewIcon(theme.NewWarningThemedResource(theme.WarningIcon()))
		status = tr("WARNING")
	}
	name := widget.NewLabelWithStyle(status+"  "+checkTitle(r.Name), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	detail := widget.NewLabel(trText(r.DetailText))
	detail.Wrapping = fyne.TextWrapWord
	lines := container.NewVBox(name, detail)
	if r.Hint != "" {
		// Chinese has no italic: the Latin words of a hint alone would slant.
		hint := widget.NewLabelWithStyle(tr("What to do: ")+trText(r.HintText), fyne.TextAlignLeading, fyne.TextStyle{Italic: currentLanguage() == "en"})
		hint.Wrapping = fyne.TextWrapWord
		lines.Add(hint)
	}
	return container.NewBorder(nil, widget.NewSeparator(), container.NewPadded(icon), nil, lines)
}
