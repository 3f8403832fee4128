package app

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/widget"

	"enrollstation/vault"
)

// loginForm is the login (and unlock) screen: user name, password, language.
type loginForm struct {
	user, pass *widget.Entry
	lang       *widget.Select
	submit     *widget.Button
	msg        *widget.Label
}

// showLogin shows the login screen.
func (sh *shell) showLogin() { sh.showLoginForm(false) }

// showLock shows the unlock screen: the locked operator's name is filled in.
func (sh *shell) showLock() { sh.showLoginForm(true) }

func (sh *shell) showLoginForm(locked bool) {
	f := &loginForm{
		user: widget.NewEntry(),
		pass: widget.NewPasswordEntry(),
		msg:  widget.NewLabel(""),
	}
	f.msg.Wrapping = fyne.TextWrapWord
	f.msg.Importance = widget.DangerImportance
	f.user.SetPlaceHolder(tr("User name"))
	f.pass.SetPlaceHolder(tr("Password"))
	names := make([]string, len(languages))
	for i, l := range languages {
		names[i] = l.Name
	}
	f.lang = widget.NewSelect(names, func(name string) {
		for _, l := range languages {
			if l.Name == name && l.Code != currentLanguage() {
				setLanguage(l.Code)
				sh.langChosen = true // kept as this operator's language at login (langpref.go)
				// Rebuild this screen in the new language (Fyne has no live re-translation),
				// keeping what was typed.
				u := f.user.Text
				sh.showLoginForm(locked)
				if c, ok := sh.loginFormOf(); ok {
					c.user.SetText(u)
				}
			}
		}
	})
	for _, l := range languages {
		if l.Code == currentLanguage() {
			f.lang.Selected = l.Name
		}
	}
	do := func() { sh.tryLogin(f, locked) }
	f.submit = widget.NewButton(tr("Log in"), do)
	f.submit.Importance = widget.HighImportance
	f.user.OnSubmitted = func(string) { sh.win.Canvas().Focus(f.pass) }
	f.pass.OnSubmitted = func(string) { do() }

	title := tr("Enrollment Station")
	sub := tr("Log in with your operator account.")
	if locked {
		f.user.SetText(sh.lockedUser)
		title = tr("Station locked")
		sub = tr("The screen was locked after inactivity.") + "\n" + tr("%s can unlock and continue.", sh.lockedUser) + "\n" +
			tr("If another operator logs in, the work in progress is kept for %s.", sh.lockedUser)
		f.submit.SetText(tr("Unlock"))
	}
	head := widget.NewLabelWithStyle(title, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	head.SizeName = "headingText"
	subL := widget.NewLabel(sub) // explicit lines: a wrapped label under-reports its height here
	subL.Alignment = fyne.TextAlignCenter

	form := container.New(layout.NewFormLayout(),
		widget.NewLabel(tr("User name")), f.user,
		widget.NewLabel(tr("Password")), f.pass,
		widget.NewLabel(tr("Language")), f.lang,
	)
	items := []fyne.CanvasObject{head, subL, form, f.submit, f.msg}
	if sh.demo && sh.hasDemoAccounts() {
		items = append(items, demoCredentials())
	}
	box := container.NewVBox(items...)
	card := widget.NewCard("", "", box)
	content := container.NewCenter(container.NewGridWrap(fyne.NewSize(520, card.MinSize().Height), card))
	sh.setCurrent(f)
	sh.setContent(content)
	if locked && f.user.Text != "" {
		sh.win.Canvas().Focus(f.pass)
	} else {
		sh.win.Canvas().Focus(f.user)
	}
}

// loginFormOf returns the login form on screen, if any.
func (sh *shell) loginFormOf() (*loginForm, bool) {
	f, ok := sh.current.(*loginForm)
	return f, ok
}

// tryLogin checks the password on a goroutine (argon2id and the TPM take a moment) and
// goes on to home, or back into the locked work.
func (sh *shell) tryLogin(f *loginForm, locked bool) {
	name, pw := f.user.Text, f.pass.Text
	if name == "" || pw == "" {
		f.msg.SetText(tr("Enter your user name and password."))
		return
	}
	if sh.station == nil {
		f.msg.SetText(tr("The station is not open."))
		return
	}
	f.submit.Disable()
	f.msg.SetText("")
	st := sh.station
	go func() {
		s, err := st.Login(name, pw)
		ui(func() {
			f.submit.Enable()
			if errors.Is(err, vault.ErrPasswordChangeRequired) {
				f.pass.SetText("")
				sh.askNewPassword(f, name, pw, locked)
				return
			}
			if err != nil {
				f.pass.SetText("")
				f.msg.SetText(loginErrText(err))
				sh.win.Canvas().Focus(f.pass)
				sh.emit("login-failed", err)
				return
			}
			if locked {
				sh.unlocked(s)
			} else {
				sh.loggedIn(s)
			}
		})
	}()
}

// newPasswordForm is the dialog asking for one's own password after a login with a
// one-time password (tests drive it through its fields and save).
type newPasswordForm struct {
	pw1, pw2 *widget.Entry
	save     func()
}

// askNewPassword asks an operator who logged in with a one-time password (after a
// reset) for their own new password, sets it and logs them in with it.
func (sh *shell) askNewPassword(f *loginForm, name, otp string, locked bool) {
	nf := &newPasswordForm{pw1: widget.NewPasswordEntry(), pw2: widget.NewPasswordEntry()}
	msg := widget.NewLabel(tr("You logged in with a one-time password. Choose your own password (at least 8 characters); only you will know it."))
	msg.Wrapping = fyne.TextWrapWord
	items := []*widget.FormItem{widget.NewFormItem("", msg), widget.NewFormItem(tr("New password"), nf.pw1), widget.NewFormItem(tr("Repeat password"), nf.pw2)}
	st := sh.station
	nf.save = func() {
		sh.touch()
		if nf.pw1.Text != nf.pw2.Text {
			f.msg.SetText(tr("The two passwords differ. Type them again."))
			return
		}
		newPW := nf.pw1.Text
		go func() {
			err := st.ChangePassword(name, otp, newPW)
			var s *vault.Session
			if err == nil {
				s, err = st.Login(name, newPW)
			}
			ui(func() {
				if err != nil {
					f.msg.SetText(errText(err))
					sh.emit("login-failed", err)
					return
				}
				if locked {
					sh.unlocked(s)
				} else {
					sh.loggedIn(s)
				}
			})
		}()
	}
	d := dialog.NewForm(tr("Choose a new password"), tr("Save"), tr("Cancel"), items, func(ok bool) {
		if ok {
			nf.save()
		}
	}, sh.win)
	d.Resize(fyne.NewSize(480, 280))
	d.Show()
	sh.win.Canvas().Focus(nf.pw1)
	sh.emit("new-password", nf)
}

// loginErrText turns vault's login errors into plain language.
func loginErrText(err error) string {
	var le *vault.LockedError
	switch {
	case errors.As(err, &le) && le.ByAdmin:
		return tr("This account is locked by an administrator. Ask an administrator to unlock it.")
	case errors.As(err, &le):
		return tr("Too many failed logins with this name. Try again after %s, or ask an administrator to unlock it now.", le.Until.Local().Format("15:04:05"))
	case errors.Is(err, vault.ErrBadPassword):
		return tr("Wrong user name or password. Check the keyboard language and Caps Lock, then try again.")
	case errors.Is(err, vault.ErrAccountLocked):
		return tr("This account is locked. Ask an administrator to unlock it.")
	case errors.Is(err, vault.ErrPasswordChangeRequired):
		return tr("That was a one-time password: log in with it again and choose your own password.")
	case errors.Is(err, vault.ErrTPMLockout):
		return tr("The security chip is refusing passwords for a while after repeated failures. Wait, or ask a technician.")
	}
	return fmt.Sprintf("%s: %v", tr("Login failed"), err)
}

// defaultIdleLockMinutes applies when the station settings leave the idle lock at 0.
const defaultIdleLockMinutes = 5

// idleLock fires once after a period without activity, and calls warn(true) warnBefore
// that (warn(false) when activity or stop cancels a given warning). Safe from any
// goroutine; fire and warn run on the timers' goroutines.
type idleLock struct {
	fire       func()
	warn       func(on bool)
	warnBefore time.Duration
	now        func() time.Time // the clock of lastActivity (tests replace it)
	mu         sync.Mutex
	d          time.Duration
	t          *time.Timer
	wt         *time.Timer // the warning's timer (nil when d is too short to warn)
	warned     bool
	last       time.Time // when the lock was last armed or postponed
}

// idleWarning is how long before the idle lock the operator is warned.
const idleWarning = 30 * time.Second

func newIdleLock(fire func()) *idleLock {
	return &idleLock{fire: fire, warn: func(bool) {}, warnBefore: idleWarning, now: time.Now}
}

// lastActivity is when the lock was last armed or postponed by activity.
func (l *idleLock) lastActivity() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.last
}

// start arms the lock to fire after d without touch.
func (l *idleLock) start(d time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.stopLocked()
	l.d = d
	l.last = l.now()
	l.t = time.AfterFunc(d, l.fire)
	l.armWarnLocked()
}

// armWarnLocked (re)arms the warning when the idle time leaves room for it.
func (l *idleLock) armWarnLocked() {
	if l.d <= l.warnBefore {
		return
	}
	if l.wt != nil {
		l.wt.Reset(l.d - l.warnBefore)
		return
	}
	l.wt = time.AfterFunc(l.d-l.warnBefore, func() {
		l.mu.Lock()
		armed := l.t != nil
		l.warned = armed
		l.mu.Unlock()
		if armed {
			l.warn(true)
		}
	})
}

// touch postpones the lock (no-op when not armed) and withdraws a warning on show.
func (l *idleLock) touch() {
	l.mu.Lock()
	if l.t == nil {
		l.mu.Unlock()
		return
	}
	l.t.Reset(l.d)
	l.armWarnLocked()
	l.last = l.now()
	warned := l.warned
	l.warned = false
	l.mu.Unlock()
	if warned {
		l.warn(false)
	}
}

func (l *idleLock) stopLocked() {
	if l.t != nil {
		l.t.Stop()
		l.t = nil
	}
	if l.wt != nil {
		l.wt.Stop()
		l.wt = nil
	}
}

// stop disarms the lock (and withdraws a warning on show).
func (l *idleLock) stop() {
	l.mu.Lock()
	l.stopLocked()
	warned := l.warned
	l.warned = false
	l.mu.Unlock()
	if warned {
		l.warn(false)
	}
}
