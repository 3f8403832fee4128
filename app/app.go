// Package app is the station's window: the Fyne screens for clerks, supervisors and
// technicians. It holds no business rules; those live in capture, biometrics, vault,
// exporter and enroll, which the screens call.
//
// # Extension points (the shell)
//
// This file is the shell: through the opener main gives it, it opens the TPM and the
// station, shows the first-run provisioning screen when the data directory holds no station, the login screen, and
// after login a home made of the role screens the operator may use. Screens of each role
// live in their own files and plug in through:
//
//   - roleScreen: one tab of the home screen for one role;
//   - clerkScreens (app/clerk.go), supervisorScreens (app/supervisor*.go),
//     technicianScreens (app/technician*.go), adminScreens (app/admin*.go): the tabs of
//     each role, in display order;
//   - provisioningScreen (app/provision*.go): the first-run wizard.
//
// Every screen receives the *shell, which carries the shared state (station, session,
// window, configuration) and the navigation (show, home, logout, lock, touch).
package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"io"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/assets"
	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/enroll"
	"enrollstation/exporter"
	"enrollstation/vault"
)

// AppID is the Fyne application ID (also in FyneApp.toml).
const AppID = "example.enrollstation.station"

// roleScreen is one tab of the home screen, shown to operators holding Role.
type roleScreen struct {
	Role  vault.Role
	Title string        // already translated (use tr)
	Icon  fyne.Resource // may be nil
	// Make builds the tab's content. It runs on the UI thread each time the home screen
	// is built (after login and after each return home), so it should be cheap and start
	// background work (goroutines updating widgets through ui) only as needed.
	Make func(sh *shell) fyne.CanvasObject
}

// shell is the state every screen shares and the way screens navigate. Fields are set
// by the shell; screens read them and must not replace them. Methods run on the UI
// thread unless documented otherwise.
type shell struct {
	ctx    context.Context
	app    fyne.App
	win    fyne.Window
	cfg    enroll.Config
	open   enroll.Opener // main's: the only way the window opens the TPM, store and models
	stderr io.Writer
	demo   bool

	tpm     *vault.TPM     // opened before provisioning; nil when the TPM is missing
	station *vault.Station // nil until provisioned and opened
	sess    *vault.Session // nil when nobody is logged in

	idle *idleLock
	act  *instrumenter // chains activity into the widgets' handlers (activity.go)

	// locked holds the screen that was showing when the idle lock fired, so that the
	// same operator unlocks back into it (an enrollment in progress is not lost).
	locked     fyne.CanvasObject
	lockedCur  any
	lockedUser string

	// parked holds, per clerk, an enrollment in progress that was idle-locked when
	// another operator logged in (parked.go); parkedLabel is its notice on show (tests).
	parked      map[string]parkedWork
	parkedLabel *widget.Label

	recMu  sync.Mutex
	rec    *biometrics.Recognizer
	ownRec bool // rec was loaded by the shell (tests may lend one)

	// reloaders reload a home tab's data each time the tab is opened (fresh.go).
	reloaders map[fyne.CanvasObject]func()
	homeTabs  *container.AppTabs // the home screen's tabs, when it has several
	// langChosen: the operator picked a language on the login screen (langpref.go).
	langChosen bool
	// startChecked: the technician chose to go on despite start-up problems (startcheck.go).
	startChecked bool

	// onLogout are called (UI thread) when the operator logs out, to stop cameras and
	// other work started by screens; cleared on each logout.
	onLogout []func()

	// current is the controller of the screen on show (e.g. *loginForm), for the
	// screen's own code and tests.
	current any

	// notify, when set (tests), hears what the screens do: ("screen", controller) when a
	// screen is shown through setCurrent, and the capture step's events. Called on the
	// UI thread.
	notify func(event string, x any)

	// openCamera, when set (tests), opens cameras instead of capture.SpecOpener.
	openCamera func(spec string, opts capture.Options) capture.Opener

	// now is the clock (time.Now in the app; tests replace it).
	now func() time.Time
}

// Run opens the station window and returns when it is closed or ctx is cancelled.
// op opens the TPM, the station (after the first-run wizard when there is none yet) and
// the face models; stderr receives what the window cannot show.
func Run(ctx context.Context, cfg enroll.Config, op enroll.Opener, demo bool, stderr io.Writer) error {
	if err := checkDisplay(os.Getenv); err != nil {
		return err
	}
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.IconPNG))
	th, fontErr := newStationTheme()
	a.Settings().SetTheme(th)
	title := "Enrollment Station"
	if demo {
		title += " — DEMO (software TPM, not for real enrolments)"
	}
	w := a.NewWindow(title)
	w.Resize(fyne.NewSize(1366, 768))

	sh := newShell(ctx, a, w, cfg, op, demo)
	sh.stderr = stderr
	defer sh.close()
	if fontErr != nil {
		fmt.Fprintln(stderr, "enrollstation:", fontErr)
	}
	sh.start()

	go func() {
		<-ctx.Done()
		ui(a.Quit)
	}()
	w.ShowAndRun()
	return nil
}

// newShell makes the shell; start shows the first screen.
func newShell(ctx context.Context, a fyne.App, w fyne.Window, cfg enroll.Config, op enroll.Opener, demo bool) *shell {
	initLanguage()
	sh := &shell{ctx: ctx, app: a, win: w, cfg: cfg, open: op, stderr: io.Discard, demo: demo, now: time.Now}
	sh.idle = newIdleLock(func() { ui(sh.lock) })
	sh.idle.warn = func(on bool) { ui(func() { sh.showIdleWarning(on) }) }
	sh.idle.now = func() time.Time { return sh.now() }
	sh.act = &instrumenter{touch: sh.touch, now: func() time.Time { return sh.now() }, canvas: w.Canvas}
	sh.installActivityHooks()
	go sh.watchDialogs()
	return sh
}

// start opens the TPM and the station and shows provisioning or login.
func (sh *shell) start() {
	tp, err := sh.open.OpenTPM()
	// Models, camera and TPM are checked now, in plain words, rather than failing late.
	if probs := sh.startupProblems(err); len(probs) > 0 && !sh.startChecked {
		if err == nil {
			tp.Close()
		}
		sh.showStartupProblems(probs, sh.start, func() { sh.startChecked = true; sh.start() })
		return
	}
	if err != nil {
		sh.showError(tr("TPM not available"), vault.ExplainLowDisk(sh.cfg.Data, err))
		return
	}
	sh.tpm = tp
	if !vault.Initialized(sh.cfg.Data) {
		if p := provisioningScreen(sh, sh.provisioned); p != nil {
			sh.setContent(p)
			return
		}
		if !sh.demo {
			sh.showError(tr("This station is not set up"),
				fmt.Errorf("no station in %s: run `enrollstation station init --admin NAME`", sh.cfg.Data))
			return
		}
		// Without a provisioning wizard a demo station provisions itself with documented
		// demo accounts, so a new user can still try a complete enrollment.
		st, err := enroll.ProvisionDemo(sh.cfg, sh.open, sh.tpm)
		if err != nil {
			sh.showError(tr("Could not set up the demo station"), vault.ExplainLowDisk(sh.cfg.Data, err))
			return
		}
		sh.station = st
	}
	if sh.station == nil {
		st, err := sh.open.OpenStation(sh.tpm)
		if err != nil {
			sh.showError(tr("Could not open the station"), vault.ExplainLowDisk(sh.cfg.Data, err))
			return
		}
		sh.station = st
	}
	// The administrator's station language is the default; the login screen can switch.
	if l := sh.settings().Language; l != "" && l != currentLanguage() {
		setLanguage(l)
	}
	sh.showLogin()
}

// provisioned is called by the provisioning screen (UI thread) with the new, open
// station; the shell takes ownership of it and shows the login screen.
func (sh *shell) provisioned(st *vault.Station) {
	sh.station = st
	sh.showLogin()
}

// close releases the station, TPM and recognizer.
func (sh *shell) close() {
	sh.idle.stop()
	for _, f := range sh.onLogout {
		f()
	}
	sh.onLogout = nil
	if sh.station != nil {
		sh.station.Close()
	}
	if sh.tpm != nil {
		sh.tpm.Close()
	}
	sh.recMu.Lock()
	if sh.rec != nil && sh.ownRec {
		sh.rec.Close()
	}
	sh.recMu.Unlock()
}

// recognizer returns the station's one face recognizer, loading the models on first
// use (about a second). Safe from any goroutine.
func (sh *shell) recognizer() (*biometrics.Recognizer, error) {
	sh.recMu.Lock()
	defer sh.recMu.Unlock()
	if sh.rec != nil {
		return sh.rec, nil
	}
	r, err := sh.open.LoadRecognizer()
	if err != nil {
		return nil, err
	}
	sh.rec, sh.ownRec = r, true
	return r, nil
}

// settings reads the station settings for what the screens show (language, names, idle
// lock). When they cannot be read the defaults apply and the error goes to stderr: the
// screen that changes settings reads them itself and shows the error.
func (sh *shell) settings() vault.Settings {
	if sh.station == nil {
		return vault.DefaultSettings()
	}
	s, err := enroll.Settings(sh.station)
	if err != nil {
		fmt.Fprintln(sh.stderr, "enrollstation: reading the station settings:", err)
		return vault.DefaultSettings()
	}
	return s
}

// show replaces the window content with a screen (with the top bar of the logged-in
// operator). Screens use it to navigate: sh.show(next), and sh.home() to go back.
func (sh *shell) show(c fyne.CanvasObject) {
	sh.touch()
	if sh.sess == nil {
		sh.setContent(c)
		return
	}
	sh.setContent(container.NewBorder(sh.topBar(), nil, nil, nil, c))
}

// setContent sets the window content, adding the demo banner on demo stations.
func (sh *shell) setContent(c fyne.CanvasObject) {
	if sh.demo {
		c = container.NewBorder(demoBanner(), nil, nil, nil, c)
	}
	sh.win.SetContent(newActivityRoot(c, sh.uiActivity))
	sh.act.walk(sh.win.Canvas())
	sh.emit("screen", sh.current)
}

// home shows the home screen of the logged-in operator: one tab per role screen.
func (sh *shell) home() {
	if sh.sess == nil {
		sh.showLogin()
		return
	}
	sh.reloaders = nil
	var tabs []*container.TabItem
	for _, group := range [][]roleScreen{clerkScreens(), supervisorScreens(), technicianScreens(), adminScreens()} {
		for _, rs := range group {
			if !sh.sess.Has(rs.Role) {
				continue
			}
			tabs = append(tabs, container.NewTabItemWithIcon(rs.Title, rs.Icon, rs.Make(sh)))
		}
	}
	if len(tabs) == 0 {
		sh.show(container.NewCenter(widget.NewLabel(tr("No screens for your roles yet."))))
		return
	}
	if len(tabs) == 1 {
		sh.show(tabs[0].Content)
		return
	}
	at := container.NewAppTabs(tabs...)
	at.OnSelected = func(it *container.TabItem) { sh.opened(it.Content) }
	sh.homeTabs = at
	sh.show(at)
}

// setCurrent records the controller of the screen about to be shown (announced to
// notify once the window shows it).
func (sh *shell) setCurrent(x any) { sh.current = x }

// emit tells notify (tests) about an event.
func (sh *shell) emit(event string, x any) {
	if sh.notify != nil {
		sh.notify(event, x)
	}
}

// onLogoutDo registers f to run when the operator logs out or the window closes (UI
// thread), e.g. to stop a camera.
func (sh *shell) onLogoutDo(f func()) { sh.onLogout = append(sh.onLogout, f) }

// logout ends the session and shows the login screen.
func (sh *shell) logout() {
	for _, f := range sh.onLogout {
		f()
	}
	sh.onLogout = nil
	sh.sess = nil
	sh.locked, sh.lockedCur, sh.lockedUser = nil, nil, ""
	sh.idle.stop()
	sh.restoreStationLanguage()
	sh.showLogin()
}

// lock hides the current screen behind the unlock screen; the same operator unlocks back
// into it, anyone else logs in afresh (the locked work is then dropped). A running
// capture is stopped while locked (no camera behind a locked screen) and restarted on
// unlock.
func (sh *shell) lock() {
	if sh.sess == nil || sh.locked != nil {
		return
	}
	sh.closeDialogs()
	sh.showIdleWarning(false) // the kept screen comes back without it
	sh.locked = sh.win.Content()
	sh.lockedCur = sh.current
	sh.lockedUser = sh.sess.Name
	if cv, ok := sh.current.(*captureView); ok {
		cv.leave()
	}
	sh.idle.stop()
	sh.showLock()
}

// unlocked is called after a successful login on the lock screen.
func (sh *shell) unlocked(s *vault.Session) {
	prev, cur, user := sh.locked, sh.lockedCur, sh.lockedUser
	sh.locked, sh.lockedCur, sh.lockedUser = nil, nil, ""
	if user != s.Name {
		// The locked clerk's enrollment in progress waits for them (parked.go).
		if inProgress(cur) {
			sh.park(user, prev, cur)
		}
		for _, f := range sh.onLogout {
			f()
		}
		sh.onLogout = nil
		sh.sess = s
		sh.applyLanguagePreference(s)
		sh.startIdle()
		if !sh.resumeParked(s) {
			sh.home()
		}
		return
	}
	sh.sess = s
	sh.startIdle()
	sh.restoreWork(prev, cur)
}

// loggedIn is called after a successful login. A clerk's face models are loaded in the
// background now, so the first capture does not wait for them.
func (sh *shell) loggedIn(s *vault.Session) {
	sh.sess = s
	sh.applyLanguagePreference(s)
	sh.startIdle()
	if s.Has(vault.RoleClerk) {
		go sh.recognizer() // an error is reported by the capture step that needs it
	}
	if !sh.resumeParked(s) {
		sh.home()
	}
}

// startIdle arms the idle lock with the station's setting.
func (sh *shell) startIdle() {
	m := sh.settings().IdleLockMinutes
	if m <= 0 {
		m = defaultIdleLockMinutes
	}
	sh.idle.start(time.Duration(m) * time.Minute)
}

// touch records operator activity (postpones the idle lock). Safe from any goroutine.
func (sh *shell) touch() { sh.idle.touch() }

// uiActivity records pointer activity seen by the content root (UI thread) and
// instruments widgets a screen may have added since the last walk (activity.go).
func (sh *shell) uiActivity() {
	sh.touch()
	sh.act.walkSoon(sh.win.Canvas())
}

// installActivityHooks makes key presses and typing with no focused widget count as
// activity; pointer input and focused widgets are observed by activity.go.
func (sh *shell) installActivityHooks() {
	c := sh.win.Canvas()
	c.SetOnTypedKey(func(*fyne.KeyEvent) { sh.touch() })
	c.SetOnTypedRune(func(rune) { sh.touch() })
}

// topBar shows who is logged in, with lock and log-out buttons.
func (sh *shell) topBar() fyne.CanvasObject {
	who := widget.NewLabelWithStyle(fmt.Sprintf("%s: %s", tr("Operator"), sh.sess.Name), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	homeBtn := widget.NewButtonWithIcon(tr("Home"), theme.HomeIcon(), func() { sh.leaveWork(sh.home) })
	lockBtn := widget.NewButtonWithIcon(tr("Lock"), theme.VisibilityOffIcon(), sh.lock)
	out := widget.NewButtonWithIcon(tr("Log out"), theme.LogoutIcon(), func() { sh.leaveWork(sh.logout) })
	name := sh.settings().StationName
	station := widget.NewLabel(name)
	bar := container.NewVBox(container.NewHBox(who, station, layoutSpacer(), homeBtn, lockBtn, out), widget.NewSeparator())
	if n := sh.parkedNotice(); n != nil {
		bar.Add(n)
	}
	return bar
}

// showError replaces the content with a plain-language error and its detail.
func (sh *shell) showError(title string, err error) {
	head := widget.NewLabelWithStyle(title, fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	detail := widget.NewLabel(errText(err))
	detail.Wrapping = fyne.TextWrapWord
	sh.setContent(container.NewPadded(container.NewVBox(head, detail)))
}

// errText is the message shown for err: the workflow's everyday refusals in the screen
// language and without package prefixes, anything else as the error reads.
func errText(err error) string {
	var inUse *vault.InUseError
	var low *vault.LowDiskError
	var medium *exporter.NoSpaceError
	switch {
	case errors.As(err, &inUse):
		return tr("Another program is using this station's data. Close it and start again.") + "\n" + err.Error()
	case errors.Is(err, vault.ErrNoTPM):
		return tr("No TPM was found. Check the station's security chip or start with --tpm swtpm for a test station.") + "\n" + err.Error()
	case errors.As(err, &low) && low.AtOpen:
		return tr("The station cannot start: its disk is full (%d MB free). A technician must free disk space on this computer, then start the station again.", low.Free>>20) + "\n" + err.Error()
	case errors.As(err, &low):
		return tr("The station's disk is almost full: %d MB free, and %d MB must stay free. Ask a supervisor to export batches and import the issuer's acknowledgements (that deletes their biometrics), or a technician to free disk space.", low.Free>>20, low.Need>>20)
	case errors.As(err, &medium):
		return tr("The export medium %s is too full: %.1f MB free, the bundle needs %.1f MB. Use a larger USB drive or free space on it, then export again.", medium.Dir, float64(medium.Free)/1e6, float64(medium.Need)/1e6)
	case errors.Is(err, syscall.ENOSPC):
		return tr("A disk is full (no space left on device). Free space, then try again.") + "\n" + err.Error()
	case errors.Is(err, vault.ErrWeakPassword):
		return tr("Passwords must be at least 8 characters, and not only spaces.")
	case errors.Is(err, vault.ErrUserExists):
		return tr("An operator with that name already exists. Choose another name.")
	case errors.Is(err, vault.ErrForbidden):
		return tr("Your account does not have the role needed for that.")
	case errors.Is(err, vault.ErrSelfApproval):
		return tr("You captured this enrollment yourself; another supervisor must approve it.")
	case errors.Is(err, vault.ErrNotInWorkflow):
		return tr("This enrollment is no longer in a state that allows this (someone may have handled it meanwhile). Refresh the list and try again.")
	case errors.Is(err, vault.ErrAccountLocked), errors.Is(err, vault.ErrPasswordChangeRequired):
		return loginErrText(err)
	case errors.Is(err, vault.ErrSessionExpired):
		return tr("Your login is no longer valid (your password was changed or reset). Log in again.")
	case errors.Is(err, vault.ErrSecondPersonRequired):
		return tr("Changing the issuer key needs a second person: another administrator or a supervisor, with their password.")
	case errors.Is(err, vault.ErrBadName):
		return tr("Operator names are letters or digits of one script (with . _ -): no spaces, look-alike letters from another script, invisible or direction characters.")
	case errors.Is(err, vault.ErrTPMLockout):
		return tr("The TPM is locked after repeated wrong passwords. Wait for it to recover, or ask a technician to reset it.")
	case errors.Is(err, enroll.ErrNothingToBatch):
		return tr("No approved enrollments are waiting for a batch.")
	case errors.Is(err, enroll.ErrNoIssuerKey):
		return tr("This station has no issuer key yet. An administrator must import it under Station settings.")
	case errors.Is(err, enroll.ErrAckMismatch):
		return tr("This acknowledgement is not for a bundle this station exported. Check that you chose the right file.")
	case errors.Is(err, vault.ErrInvalid):
		return invalidText(err)
	}
	return err.Error()
}

// demoBanner marks every screen of a demo station, so nobody mistakes it for a real one.
func demoBanner() fyne.CanvasObject {
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameWarning))
	text := widget.NewLabelWithStyle(tr("DEMO STATION — software TPM and demo camera; not for real enrolments"),
		fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	return container.NewStack(bg, text)
}
