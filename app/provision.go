package app

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/vault"
)

// provisioningScreen is the first-run wizard, shown when the data directory holds no
// station: station name and site, the TPM found (with a warning for a software TPM),
// the issuer key with its fingerprint, the first administrator; then keys are created.
func provisioningScreen(sh *shell, done func(*vault.Station)) fyne.CanvasObject {
	return newProvisioning(sh, done).content
}

// provisioning is the wizard's controller (tests drive it through its fields).
type provisioning struct {
	sh      *shell
	done    func(*vault.Station)
	content *fyne.Container

	step  int
	steps []func() fyne.CanvasObject

	name, site     *widget.Entry
	keyPath        *widget.Entry
	keyFP          *widget.Label
	keyOK          *widget.Check
	issuerKey      []byte
	admin, pw, pw2 *widget.Entry
	status         *widget.Label
	back, next     *widget.Button
	cont           *widget.Button // "Continue to login" on the summary
	stepLabel      *widget.Label
	finished       chan error // receives the outcome of create (tests wait on it)
}

func newProvisioning(sh *shell, done func(*vault.Station)) *provisioning {
	p := &provisioning{sh: sh, done: done, finished: make(chan error, 1)}
	p.name = widget.NewEntry()
	p.name.SetPlaceHolder(tr("e.g. Counter 3"))
	p.site = widget.NewEntry()
	p.site.SetPlaceHolder(tr("e.g. Town Hall, ground floor"))
	p.keyPath = widget.NewEntry()
	p.keyPath.SetPlaceHolder(tr("issuer.pub file from the card issuer"))
	p.keyPath.OnChanged = func(string) { p.readKey() }
	p.keyFP = widget.NewLabel("")
	p.keyFP.Wrapping = fyne.TextWrapWord
	p.keyOK = widget.NewCheck(tr("The fingerprint matches the one the issuer gave me"), nil)
	p.admin = widget.NewEntry()
	p.admin.SetPlaceHolder(tr("e.g. admin"))
	p.pw = widget.NewPasswordEntry()
	p.pw.SetPlaceHolder(tr("at least 8 characters"))
	p.pw2 = widget.NewPasswordEntry()
	p.status = widget.NewLabel("")
	p.status.Wrapping = fyne.TextWrapWord
	p.status.Importance = widget.DangerImportance
	p.stepLabel = widget.NewLabel("")
	p.back = widget.NewButtonWithIcon(tr("Back"), theme.NavigateBackIcon(), func() { p.goTo(p.step - 1) })
	p.next = widget.NewButtonWithIcon(tr("Next"), theme.NavigateNextIcon(), func() { p.forward() })
	p.next.Importance = widget.HighImportance
	if sh.demo {
		// A demo walks through the same wizard, prefilled; creating the station also adds
		// the documented demo accounts and a demo issuer key (see demoExtras).
		p.name.SetText(enroll.DemoStationName)
		p.site.SetText(enroll.DemoSite)
		p.admin.SetText(demoAccounts[0].Name)
		p.pw.SetText(demoAccounts[0].Password)
		p.pw2.SetText(demoAccounts[0].Password)
	}
	p.steps = []func() fyne.CanvasObject{p.stationStep, p.tpmStep, p.issuerStep, p.adminStep}
	p.content = container.NewStack()
	p.goTo(0)
	sh.current = p
	// Keyboard-first: Enter moves on, as the Next button does.
	sh.win.Canvas().SetOnTypedKey(func(k *fyne.KeyEvent) {
		sh.touch()
		if (k.Name != fyne.KeyReturn && k.Name != fyne.KeyEnter) || sh.current != p {
			return
		}
		switch {
		case p.cont != nil:
			p.cont.OnTapped()
		case !p.next.Disabled():
			p.forward()
		}
	})
	return p
}

func (p *provisioning) goTo(i int) {
	if i < 0 || i >= len(p.steps) {
		return
	}
	p.step = i
	p.status.SetText("")
	if i == 0 {
		p.back.Disable()
	} else {
		p.back.Enable()
	}
	if i == len(p.steps)-1 {
		p.next.SetText(tr("Create the station"))
		p.next.SetIcon(theme.ConfirmIcon())
	} else {
		p.next.SetText(tr("Next"))
		p.next.SetIcon(theme.NavigateNextIcon())
	}
	p.stepLabel.SetText(tr("Step %d of %d", i+1, len(p.steps)))
	title := widget.NewLabelWithStyle(tr("Set up this enrollment station"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	nav := container.NewHBox(p.stepLabel, layout.NewSpacer(), p.back, p.next)
	body := container.NewVBox(title, widget.NewSeparator(), p.steps[i](), p.status)
	if p.sh.demo {
		note := widget.NewLabel(tr("DEMO: the fields are filled in for you. Press Next on each step; the demo also creates a clerk, a supervisor, a technician and a demo issuer key."))
		note.Wrapping = fyne.TextWrapWord
		note.Importance = widget.WarningImportance
		body.Add(note)
	}
	p.content.Objects = []fyne.CanvasObject{container.NewPadded(container.NewBorder(nil, nav, nil, nil,
		container.NewCenter(container.NewGridWrap(fyne.NewSize(760, 480), body))))}
	p.content.Refresh()
}

// forward checks the current step and moves on (or creates the station on the last).
func (p *provisioning) forward() {
	p.sh.touch()
	if err := p.check(p.step); err != nil {
		p.status.SetText(err.Error())
		return
	}
	if p.step == len(p.steps)-1 {
		p.create()
		return
	}
	p.goTo(p.step + 1)
}

func (p *provisioning) check(step int) error {
	switch step {
	case 0:
		if strings.TrimSpace(p.name.Text) == "" {
			return errors.New(tr("Give the station a name, so exports and the audit log say which counter they come from."))
		}
	case 2:
		if p.keyPath.Text != "" && p.issuerKey == nil {
			return errors.New(tr("That file is not an issuer public key. Choose the issuer.pub file, or leave the field empty to import it later."))
		}
		if p.issuerKey != nil && !p.keyOK.Checked {
			return errors.New(tr("Compare the fingerprint with the issuer's and tick the box, or clear the file to import it later."))
		}
	case 3:
		if strings.TrimSpace(p.admin.Text) == "" {
			return errors.New(tr("Enter the administrator's user name."))
		}
		if len([]rune(p.pw.Text)) < 8 {
			return errors.New(tr("The password needs at least 8 characters."))
		}
		if p.pw.Text != p.pw2.Text {
			return errors.New(tr("The two passwords differ. Type them again."))
		}
	}
	return nil
}

func (p *provisioning) stationStep() fyne.CanvasObject {
	intro := widget.NewLabel(tr("This data directory holds no station yet. The wizard creates the station's keys in the TPM, its encrypted store and the first administrator account."))
	intro.Wrapping = fyne.TextWrapWord
	return container.NewVBox(intro, widget.NewForm(
		widget.NewFormItem(tr("Station name"), p.name),
		widget.NewFormItem(tr("Site"), p.site),
	), widget.NewLabel(tr("Data directory: %s", p.sh.cfg.Data)))
}

func (p *provisioning) tpmStep() fyne.CanvasObject {
	info := p.sh.tpm.Info()
	head := widget.NewLabelWithStyle(tr("TPM found: %s", info.Kind), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	detail := widget.NewLabel(tr("Manufacturer %s, firmware %s", info.Manufacturer, info.Firmware))
	box := container.NewVBox(head, detail)
	if info.Kind == "software" {
		warn := widget.NewLabel(tr("WARNING: this is a SOFTWARE TPM. Its keys are only as safe as this computer's disk: anyone who copies the data directory can impersonate the station. Use it for tests and demonstrations only, never for real enrolments."))
		warn.Wrapping = fyne.TextWrapWord
		warn.Importance = widget.DangerImportance
		warn.TextStyle = fyne.TextStyle{Bold: true}
		box.Add(warn)
	} else {
		ok := widget.NewLabel(tr("The station's signing key, the store key and the bundle counter will live in this hardware TPM."))
		ok.Wrapping = fyne.TextWrapWord
		ok.Importance = widget.SuccessImportance
		box.Add(ok)
	}
	return box
}

func (p *provisioning) issuerStep() fyne.CanvasObject {
	intro := widget.NewLabel(tr("Bundles are encrypted to the card issuer's public key. Import it now, or later from Station settings."))
	intro.Wrapping = fyne.TextWrapWord
	browse := widget.NewButtonWithIcon(tr("Choose file…"), theme.FileIcon(), func() {
		dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
			if err == nil && r != nil {
				p.keyPath.SetText(r.URI().Path())
				r.Close()
			}
		}, p.sh.win)
	})
	return container.NewVBox(intro, container.NewBorder(nil, nil, nil, browse, p.keyPath), p.keyFP, p.keyOK)
}

// readKey reads the issuer key file named in keyPath and shows its fingerprint.
func (p *provisioning) readKey() {
	p.issuerKey = nil
	p.keyOK.SetChecked(false)
	if p.keyPath.Text == "" {
		p.keyFP.SetText("")
		return
	}
	b, err := os.ReadFile(p.keyPath.Text)
	if err != nil {
		p.keyFP.SetText(tr("Cannot read the file: %v", err))
		return
	}
	fp, err := enroll.CheckIssuerKey(b)
	if err != nil {
		p.keyFP.SetText(tr("Not an issuer public key."))
		return
	}
	p.issuerKey = b
	p.keyFP.SetText(tr("Fingerprint:\n%s", fp))
}

func (p *provisioning) adminStep() fyne.CanvasObject {
	intro := widget.NewLabel(tr("The first administrator adds the other operators. Keep this password safe: nobody can recover it."))
	intro.Wrapping = fyne.TextWrapWord
	return container.NewVBox(intro, widget.NewForm(
		widget.NewFormItem(tr("Administrator"), p.admin),
		widget.NewFormItem(tr("Password"), p.pw),
		widget.NewFormItem(tr("Repeat password"), p.pw2),
	))
}

// create provisions the station in the background and hands it to the shell.
func (p *provisioning) create() {
	p.next.Disable()
	p.back.Disable()
	p.status.Importance = widget.MediumImportance
	p.status.SetText(tr("Creating keys in the TPM and the encrypted store…"))
	o := enroll.ProvisionOptions{Name: p.name.Text, Site: p.site.Text, Admin: strings.TrimSpace(p.admin.Text), AdminPassword: p.pw.Text, IssuerKey: p.issuerKey}
	go func() {
		st, err := enroll.Provision(p.sh.open, p.sh.tpm, vault.Config{}, o)
		if err == nil && p.sh.demo {
			if err = enroll.DemoExtras(p.sh.cfg.Data, st, o); err != nil {
				st.Close()
			}
		}
		ui(func() {
			if err != nil {
				p.status.Importance = widget.DangerImportance
				p.status.SetText(fmt.Sprintf("%s: %s", tr("The station could not be created"), errText(err)))
				p.next.Enable()
				p.back.Enable()
			} else {
				p.showCreated(st)
			}
		})
		p.finished <- err
	}()
}

// showCreated shows what was created (the keys in the TPM, the station ID the issuer
// registers, the issuer key, the administrator) before handing the station to the shell.
func (p *provisioning) showCreated(st *vault.Station) {
	info := p.sh.tpm.Info()
	seq, _ := st.BundleSeq()
	issuer := tr("not imported yet (Station settings)")
	if k, err := enroll.IssuerKey(st); err == nil {
		issuer = k.Fingerprint()
	}
	title := widget.NewLabelWithStyle(tr("The station is ready"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameHeadingText
	facts := widget.NewForm(
		widget.NewFormItem(tr("Station ID"), widget.NewLabel(groupHex(st.ID()))),
		widget.NewFormItem(tr("TPM"), widget.NewLabel(fmt.Sprintf("%s (%s, firmware %s)", info.Kind, info.Manufacturer, info.Firmware))),
		widget.NewFormItem(tr("Keys created"), widget.NewLabel(tr("station signing key (ECDSA P-256) and store key, sealed in the TPM; bundle counter at %d", seq))),
		widget.NewFormItem(tr("Issuer key"), widget.NewLabel(issuer)),
		widget.NewFormItem(tr("Administrator"), widget.NewLabel(strings.TrimSpace(p.admin.Text))),
	)
	next := widget.NewLabel(tr("Give the issuer this station's public key: enrollstation station pubkey --out station.pem"))
	next.Wrapping = fyne.TextWrapWord
	p.cont = widget.NewButtonWithIcon(tr("Continue to login"), theme.LoginIcon(), func() { p.done(st) })
	p.cont.Importance = widget.HighImportance
	body := container.NewVBox(title, widget.NewSeparator(), facts, next)
	p.content.Objects = []fyne.CanvasObject{container.NewPadded(container.NewBorder(nil, container.NewHBox(layout.NewSpacer(), p.cont), nil, nil,
		container.NewCenter(container.NewGridWrap(fyne.NewSize(860, 480), body))))}
	p.content.Refresh()
}

// groupHex splits a long hex ID into groups of eight for reading aloud.
func groupHex(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i += 8 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+8, len(s))])
	}
	return b.String()
}
