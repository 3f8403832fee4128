package app

import (
	"errors"
	"os"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/biometrics"
	"enrollstation/vault"
)

// startProblem is one thing the station needs at start and lacks, in a technician's
// words, with what to do about it.
type startProblem struct {
	What, Fix string
	Blocking  bool // the station cannot work at all (vs. clerks cannot capture)
}

// startupProblems checks what an enrollment needs before anyone logs in: the face
// models, a camera and the TPM (tpmErr from opening it), so nothing fails late at the
// capture step.
func (sh *shell) startupProblems(tpmErr error) []startProblem {
	var out []startProblem
	if tpmErr != nil {
		p := startProblem{What: tr("The TPM (security chip) cannot be used: %s", errText(tpmErr)), Blocking: true,
			Fix: tr("Enable the TPM in the computer's firmware settings and check that /dev/tpmrm0 exists. For a demonstration only, start with: enrollstation --demo")}
		if errors.As(tpmErr, new(*vault.LowDiskError)) {
			p.Fix = tr("Free disk space on this computer, then press Check again.")
		}
		out = append(out, p)
	}
	if err := biometrics.VerifyModels(sh.cfg.Models); err != nil {
		what := tr("The face models are missing in %s.", sh.cfg.Models)
		if errors.Is(err, biometrics.ErrModelHash) {
			what = tr("The face models in %s are damaged or not the expected version.", sh.cfg.Models)
		}
		out = append(out, startProblem{What: what,
			Fix: tr("Reinstall the package (sudo apt-get install --reinstall enrollstation), which puts them in /usr/share/enrollstation/models, or start with --models FOLDER.")})
	}
	if len(sh.cameraChoices()) == 0 || !cameraReachable(sh.cfg.Camera) {
		out = append(out, startProblem{What: tr("No camera is connected."),
			Fix: tr("Plug in the USB camera, then press Check again. Supervisors and technicians can work without one.")})
	}
	return out
}

// cameraReachable says whether a configured camera spec can exist: a device node or a
// video file must be there; pipelines and the synthetic source are taken as given.
func cameraReachable(spec string) bool {
	if spec == "" || strings.HasPrefix(spec, "synthetic") || strings.HasPrefix(spec, "gst:") {
		return true
	}
	if strings.IndexFunc(spec, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
		return true // a device index
	}
	_, err := os.Stat(spec)
	return err == nil
}

// startCheck is the start-up screen listing what is missing (tests read it).
type startCheck struct {
	problems []startProblem
	again    *widget.Button
	cont     *widget.Button
}

// showStartupProblems shows what is missing; Check again re-runs the start, Continue
// (when nothing blocks) goes on to the login.
func (sh *shell) showStartupProblems(problems []startProblem, retry, cont func()) {
	c := &startCheck{problems: problems}
	head := widget.NewLabelWithStyle(tr("This station is not ready"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	head.SizeName = theme.SizeNameHeadingText
	box := container.NewVBox(head)
	blocking := false
	for _, p := range problems {
		blocking = blocking || p.Blocking
		what := widget.NewLabelWithStyle(p.What, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		what.Wrapping = fyne.TextWrapWord
		what.Importance = widget.DangerImportance
		fix := widget.NewLabel(p.Fix)
		fix.Wrapping = fyne.TextWrapWord
		box.Add(container.NewBorder(nil, nil, widget.NewIcon(theme.WarningIcon()), nil, container.NewVBox(what, fix)))
	}
	c.again = widget.NewButtonWithIcon(tr("Check again"), theme.ViewRefreshIcon(), retry)
	c.again.Importance = widget.HighImportance
	buttons := container.NewHBox(layoutSpacer(), c.again)
	if !blocking {
		c.cont = widget.NewButtonWithIcon(tr("Continue anyway"), theme.NavigateNextIcon(), cont)
		buttons.Add(c.cont)
	}
	box.Add(buttons)
	sh.setCurrent(c)
	sh.setContent(container.NewPadded(container.NewCenter(container.NewGridWrap(fyne.NewSize(760, box.MinSize().Height+40), box))))
}
