package app

import (
	"errors"
	"fmt"
	"os"
	"strconv"
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

// adminScreens are the administrator's tabs of the home screen.
func adminScreens() []roleScreen {
	return []roleScreen{
		{Role: vault.RoleAdmin, Title: tr("Users"), Icon: theme.AccountIcon(),
			Make: func(sh *shell) fyne.CanvasObject { return newUserAdmin(sh).content }},
		{Role: vault.RoleAdmin, Title: tr("Station settings"), Icon: theme.SettingsIcon(),
			Make: func(sh *shell) fyne.CanvasObject { return newSettingsScreen(sh).content }},
		{Role: vault.RoleAdmin, Title: tr("Audit log"), Icon: theme.DocumentIcon(),
			Make: func(sh *shell) fyne.CanvasObject {
				if sh.sess.Has(vault.RoleSupervisor) {
					return widget.NewLabel(tr("See the Audit log tab of the supervisor screens."))
				}
				return newAuditScreen(sh).content
			}},
	}
}

// userAdmin lists operators and adds, locks, resets and re-roles them.
type userAdmin struct {
	sh      *shell
	content fyne.CanvasObject

	users    []vault.Operator
	table    *widget.Table
	selected int

	name   *widget.Entry
	pw     *widget.Entry
	roles  *widget.CheckGroup
	status *widget.Label

	lockBtn, resetBtn, rolesBtn *widget.Button
}

// roleLabel is a role as operators read it, in the screen language.
func roleLabel(r vault.Role) string {
	switch r {
	case vault.RoleClerk:
		return tr("Clerk")
	case vault.RoleSupervisor:
		return tr("Supervisor")
	case vault.RoleTechnician:
		return tr("Technician")
	case vault.RoleAdmin:
		return tr("Administrator")
	}
	return string(r)
}

// roleNames are the choices of the role check groups: every role's label.
func roleNames() []string { return roleLabels(vault.AllRoles) }

func roleLabels(rs []vault.Role) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = roleLabel(r)
	}
	return out
}

func newUserAdmin(sh *shell) *userAdmin {
	u := &userAdmin{sh: sh, selected: -1}
	u.status = widget.NewLabel("")
	u.status.Wrapping = fyne.TextWrapWord
	cols := []string{tr("Name"), tr("Roles"), tr("State"), tr("Last login")}
	u.table = headedTable(cols, func() int { return len(u.users) }, func(l *widget.Label, id widget.TableCellID) {
		o2 := u.users[id.Row]
		switch id.Col {
		case 0:
			l.SetText(o2.Name)
		case 1:
			rs := roleLabels(o2.Roles)
			l.SetText(strings.Join(rs, ", "))
		case 2:
			switch {
			case o2.Locked:
				l.SetText(tr("locked"))
			case !o2.LockedUntil.IsZero():
				l.SetText(tr("locked until %s", o2.LockedUntil.Local().Format("15:04")))
			case o2.MustChangePassword:
				l.SetText(tr("one-time password"))
			default:
				l.SetText(tr("active"))
			}
		case 3:
			if o2.LastLoginAt.IsZero() {
				l.SetText("—")
			} else {
				l.SetText(o2.LastLoginAt.Local().Format("2006-01-02 15:04"))
			}
		}
	})
	for i, w := range []float32{160, 260, 90, 170} {
		u.table.SetColumnWidth(i, w)
	}
	u.table.OnSelected = func(id widget.TableCellID) {
		sh.touch()
		if id.Row > 0 {
			u.selected = id.Row - 1
			u.updateButtons()
		}
	}
	u.lockBtn = widget.NewButtonWithIcon(tr("Lock / unlock"), theme.VisibilityOffIcon(), func() { u.toggleLock() })
	u.resetBtn = widget.NewButtonWithIcon(tr("Reset password…"), theme.MailReplyIcon(), func() { u.askReset() })
	u.rolesBtn = widget.NewButtonWithIcon(tr("Set roles…"), theme.DocumentCreateIcon(), func() { u.askRoles() })
	actions := container.NewHBox(u.lockBtn, u.resetBtn, u.rolesBtn)

	u.name = widget.NewEntry()
	u.name.SetPlaceHolder(tr("user name"))
	u.pw = widget.NewPasswordEntry()
	u.pw.SetPlaceHolder(tr("at least 8 characters"))
	u.roles = widget.NewCheckGroup(roleNames(), nil)
	u.roles.Horizontal = true
	add := widget.NewButtonWithIcon(tr("Add user"), theme.ContentAddIcon(), func() { u.add(u.name.Text, u.pw.Text, u.roles.Selected) })
	add.Importance = widget.HighImportance
	form := widget.NewForm(
		widget.NewFormItem(tr("Name"), u.name),
		widget.NewFormItem(tr("Password"), u.pw),
		widget.NewFormItem(tr("Roles"), u.roles),
	)
	addCard := widget.NewCard(tr("New user"), tr("Supervisors get a TPM approval key protected by their password."), container.NewVBox(form, container.NewHBox(layout.NewSpacer(), add)))

	left := container.NewBorder(widget.NewLabelWithStyle(tr("Operators"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true}), actions, nil, nil, u.table)
	right := container.NewVBox(addCard, u.status)
	split := container.NewHSplit(left, right)
	split.Offset = 0.55
	u.content = split
	u.reload()
	sh.current = u
	return u
}

func (u *userAdmin) reload() {
	users, err := u.sh.station.Users()
	if err != nil {
		u.status.SetText(errText(err))
	}
	u.users = users
	if u.selected >= len(users) {
		u.selected = -1
	}
	u.table.Refresh()
	u.updateButtons()
}

func (u *userAdmin) updateButtons() {
	for _, b := range []*widget.Button{u.lockBtn, u.resetBtn, u.rolesBtn} {
		if u.selected < 0 {
			b.Disable()
		} else {
			b.Enable()
		}
	}
}

// parseRoles maps the check groups' labels (or role names) back to roles.
func parseRoles(names []string) []vault.Role {
	var rs []vault.Role
	for _, n := range names {
		for _, r := range vault.AllRoles {
			if n == roleLabel(r) || n == string(r) {
				rs = append(rs, r)
				break
			}
		}
	}
	return rs
}

// add creates an operator.
func (u *userAdmin) add(name, pw string, roles []string) error {
	if len(parseRoles(roles)) == 0 {
		u.status.SetText(tr("Choose at least one role."))
		return vault.ErrInvalid
	}
	err := u.sh.station.AddUser(u.sh.sess, strings.TrimSpace(name), parseRoles(roles), pw)
	if err != nil {
		u.status.SetText(errText(err))
		return err
	}
	u.status.SetText(tr("Added %s.", name))
	u.name.SetText("")
	u.pw.SetText("")
	u.roles.SetSelected(nil)
	u.reload()
	return nil
}

func (u *userAdmin) toggleLock() error {
	if u.selected < 0 {
		return errors.New("no user selected")
	}
	o := u.users[u.selected]
	if err := u.sh.station.SetLocked(u.sh.sess, o.Name, !o.Locked); err != nil {
		u.status.SetText(errText(err))
		return err
	}
	if o.Locked {
		u.status.SetText(tr("Unlocked %s.", o.Name))
	} else {
		u.status.SetText(tr("Locked %s.", o.Name))
	}
	u.reload()
	return nil
}

func (u *userAdmin) askReset() {
	if u.selected < 0 {
		return
	}
	name := u.users[u.selected].Name
	dialog.ShowConfirm(tr("Reset password of %s", name),
		tr("%s gets a one-time password, good only for choosing a new password at their next login. A supervisor's approval key is replaced; the issuer sees that in the next bundle.", name),
		func(ok bool) {
			if ok {
				u.reset(name)
			}
		}, u.sh.win)
}

// reset gives name a one-time password (and unlocks the account) and shows it once.
func (u *userAdmin) reset(name string) (string, error) {
	otp, err := u.sh.station.ResetPassword(u.sh.sess, name)
	if err != nil {
		u.status.SetText(errText(err))
		return "", err
	}
	u.status.SetText(tr("One-time password set for %s; the account is unlocked. They choose their own password when they log in.", name))
	code := widget.NewLabelWithStyle(otp, fyne.TextAlignCenter, fyne.TextStyle{Monospace: true})
	note := widget.NewLabel(tr("Give it to %s in person. It is shown only now.", name))
	note.Wrapping = fyne.TextWrapWord
	dialog.ShowCustom(tr("One-time password for %s", name), tr("Done"), container.NewVBox(code, note), u.sh.win)
	u.reload()
	return otp, nil
}

func (u *userAdmin) askRoles() {
	if u.selected < 0 {
		return
	}
	o := u.users[u.selected]
	cg := widget.NewCheckGroup(roleNames(), nil)
	cg.SetSelected(roleLabels(o.Roles))
	note := widget.NewLabel(tr("A new supervisor gets an approval key at their next login; taking the role away revokes it."))
	note.Wrapping = fyne.TextWrapWord
	dialog.ShowForm(tr("Roles of %s", o.Name), tr("Save"), tr("Cancel"),
		[]*widget.FormItem{widget.NewFormItem(tr("Roles"), cg), widget.NewFormItem("", note)}, func(ok bool) {
			if ok {
				u.setRoles(o.Name, cg.Selected)
			}
		}, u.sh.win)
}

func (u *userAdmin) setRoles(name string, roles []string) error {
	if len(parseRoles(roles)) == 0 {
		u.status.SetText(tr("Choose at least one role."))
		return vault.ErrInvalid
	}
	if err := u.sh.station.SetRoles(u.sh.sess, name, parseRoles(roles)); err != nil {
		u.status.SetText(errText(err))
		return err
	}
	u.status.SetText(tr("Roles of %s: %s.", name, strings.Join(roles, ", ")))
	u.reload()
	return nil
}

// settingsScreen edits the station settings and imports the issuer key.
type settingsScreen struct {
	sh      *shell
	content fyne.CanvasObject

	retention, lockout, idle *widget.Entry
	language                 *widget.Select
	quality                  *thresholdForm
	keyPath                  *widget.Entry
	keyInfo                  *widget.Label
	status                   *widget.Label
}

func newSettingsScreen(sh *shell) *settingsScreen {
	s := &settingsScreen{sh: sh}
	set, setErr := enroll.Settings(sh.station)
	if setErr != nil {
		set = vault.DefaultSettings() // shown below with the error; saving rewrites them
	}
	s.retention = widget.NewEntry()
	s.retention.SetText(strconv.Itoa(set.RetentionDays))
	s.lockout = widget.NewEntry()
	s.lockout.SetText(strconv.Itoa(set.LockoutThreshold))
	s.idle = widget.NewEntry()
	idle := set.IdleLockMinutes
	if idle == 0 {
		idle = defaultIdleLockMinutes
	}
	s.idle.SetText(strconv.Itoa(idle))
	s.language = widget.NewSelect(languageNames(), nil)
	lang := set.Language
	if lang == "" {
		lang = "en"
	}
	s.language.SetSelected(languageName(lang))
	s.quality = newThresholdForm(set.Quality)
	s.status = widget.NewLabel("")
	if setErr != nil {
		s.status.SetText(errText(setErr))
	}
	s.status.Wrapping = fyne.TextWrapWord
	save := widget.NewButtonWithIcon(tr("Save settings"), theme.DocumentSaveIcon(), func() { s.save() })
	save.Importance = widget.HighImportance
	form := widget.NewForm(
		widget.NewFormItem(tr("Keep biometrics after export (days)"), s.retention),
		widget.NewFormItem(tr("Failed logins before lock"), s.lockout),
		widget.NewFormItem(tr("Idle lock (minutes)"), s.idle),
		widget.NewFormItem(tr("Station language"), s.language),
	)
	quality := widget.NewAccordion(widget.NewAccordionItem(tr("Quality thresholds (empty = default)"), s.quality.object()))
	settingsCard := widget.NewCard(tr("Station settings"), fmt.Sprintf("%s · %s", set.StationName, set.Site), container.NewVBox(form, quality, container.NewHBox(layout.NewSpacer(), save)))

	s.keyPath = widget.NewEntry()
	s.keyPath.SetPlaceHolder(tr("issuer.pub file"))
	s.keyInfo = widget.NewLabel("")
	s.keyInfo.Wrapping = fyne.TextWrapWord
	s.showKey(set.IssuerKey)
	browse := widget.NewButtonWithIcon(tr("Choose file…"), theme.FileIcon(), func() {
		dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
			if err == nil && r != nil {
				s.keyPath.SetText(r.URI().Path())
				r.Close()
			}
		}, sh.win)
	})
	importBtn := widget.NewButtonWithIcon(tr("Import issuer key…"), theme.DownloadIcon(), func() { s.askImportKey(s.keyPath.Text) })
	keyBox := container.NewVBox(s.keyInfo, container.NewBorder(nil, nil, nil, container.NewHBox(browse, importBtn), s.keyPath))
	if sh.demo {
		demo := widget.NewButtonWithIcon(tr("Make a demo issuer key"), theme.ContentAddIcon(), func() { s.demoIssuerKey() })
		keyBox.Add(demo)
	}
	keyCard := widget.NewCard(tr("Issuer key"), tr("Bundles are encrypted to this key; compare its fingerprint with the issuer's."), keyBox)
	// The command as it works when typed: this station's data and TPM, the window closed.
	pub := widget.NewLabel(fmt.Sprintf("%s %s\n%s\n%s", tr("Station ID"), sh.station.ID(),
		tr("Give the issuer this station's public key. Close this window first (the station's data is in use while it is open), then run:"),
		pubkeyCommand(sh.cfg.Data, sh.cfg.TPM, sh.sess.Name)))
	pub.Wrapping = fyne.TextWrapWord
	info := widget.NewCard(tr("Station"), "", pub)
	s.content = container.NewVScroll(container.NewGridWithColumns(2, settingsCard, container.NewVBox(keyCard, info, s.status)))
	sh.current = s
	return s
}

func (s *settingsScreen) showKey(key []byte) {
	if len(key) == 0 {
		s.keyInfo.SetText(tr("No issuer key imported: bundles cannot be exported yet."))
		s.keyInfo.Importance = widget.WarningImportance
		return
	}
	fp, err := enroll.CheckIssuerKey(key)
	if err != nil {
		s.keyInfo.SetText(errText(err))
		s.keyInfo.Importance = widget.DangerImportance
		return
	}
	s.keyInfo.SetText(tr("Fingerprint: %s", fp))
	s.keyInfo.Importance = widget.MediumImportance
	s.keyInfo.Refresh()
}

func (s *settingsScreen) save() error {
	atoi := func(e *widget.Entry) int { n, _ := strconv.Atoi(strings.TrimSpace(e.Text)); return n }
	c := enroll.SettingsChange{RetentionDays: atoi(s.retention), LockoutThreshold: atoi(s.lockout),
		IdleLockMinutes: atoi(s.idle), Language: languageCode(s.language.Selected)}
	q, err := s.quality.overrides()
	if err != nil {
		s.status.SetText(err.Error())
		return err
	}
	c.Quality = q
	if err := enroll.UpdateSettings(s.sh.station, s.sh.sess, c); err != nil {
		s.status.SetText(errText(err))
		return err
	}
	// The station language takes effect at once (the login screen can still switch).
	if c.Language != currentLanguage() {
		setLanguage(c.Language)
	}
	s.status.SetText(tr("Settings saved."))
	return nil
}

// askImportKey shows the key's fingerprint and imports it once the administrator
// confirms it matches the issuer's.
func (s *settingsScreen) askImportKey(path string) {
	key, err := os.ReadFile(path)
	if err != nil {
		s.status.SetText(errText(err))
		return
	}
	fp, err := enroll.CheckIssuerKey(key)
	if err != nil {
		s.status.SetText(errText(err))
		return
	}
	dialog.ShowConfirm(tr("Import issuer key"), tr("Fingerprint:\n%s\n\nDoes it match the fingerprint the issuer gave you?", fp), func(ok bool) {
		if !ok {
			return
		}
		if set, err := enroll.Settings(s.sh.station); err != nil || len(set.IssuerKey) == 0 {
			s.importKey(key, nil) // the station's first issuer key: one administrator
			return
		}
		s.askSecondPerson(func(second *vault.Session) { s.importKey(key, second) })
	}, s.sh.win)
}

// askSecondPerson asks another administrator or a supervisor to log in beside the
// administrator, for a change that needs two people, and hands over their session.
func (s *settingsScreen) askSecondPerson(then func(*vault.Session)) {
	name, pw := widget.NewEntry(), widget.NewPasswordEntry()
	msg := widget.NewLabel(tr("Changing the issuer key needs a second person: another administrator or a supervisor enters their name and password here."))
	msg.Wrapping = fyne.TextWrapWord
	items := []*widget.FormItem{widget.NewFormItem("", msg), widget.NewFormItem(tr("Second person"), name), widget.NewFormItem(tr("Password"), pw)}
	st := s.sh.station
	d := dialog.NewForm(tr("Second person"), tr("Approve"), tr("Cancel"), items, func(ok bool) {
		s.sh.touch()
		if !ok {
			return
		}
		n, p := name.Text, pw.Text
		go func() {
			second, err := st.Login(n, p)
			ui(func() {
				if err != nil {
					s.status.SetText(tr("Second person: %s", loginErrText(err)))
					return
				}
				then(second)
			})
		}()
	}, s.sh.win)
	pw.OnSubmitted = func(string) { d.Submit() }
	d.Resize(fyne.NewSize(480, 280))
	d.Show()
	s.sh.win.Canvas().Focus(name)
}

// importKey makes key the issuer key, as this administrator with second (nil only for
// the station's first issuer key).
func (s *settingsScreen) importKey(key []byte, second *vault.Session) error {
	if _, err := enroll.SetIssuerKey(s.sh.station, s.sh.sess, second, key); err != nil {
		if errors.Is(err, vault.ErrSecondPersonRequired) {
			s.status.SetText(tr("Changing the issuer key needs a second person: another administrator or a supervisor, with their password."))
			return err
		}
		s.status.SetText(errText(err))
		return err
	}
	s.showKey(key)
	s.status.SetText(tr("Issuer key imported."))
	return nil
}

// demoIssuerKey makes an issuer key pair in the demo data directory and imports its
// public half, so a demo station can export (and verify) without a real issuer.
func (s *settingsScreen) demoIssuerKey() error {
	dir, err := enroll.MakeDemoIssuerKey(s.sh.cfg.Data, s.sh.station, s.sh.sess)
	if err != nil {
		s.status.SetText(errText(err))
		return err
	}
	set, err := enroll.Settings(s.sh.station)
	if err != nil {
		s.status.SetText(errText(err))
		return err
	}
	s.showKey(set.IssuerKey)
	s.status.SetText(tr("Demo issuer key made in %s and imported.", dir))
	return nil
}
