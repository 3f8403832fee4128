package app

import (
	"context"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"enrollstation/capture"
	"enrollstation/internal/cli"
	"enrollstation/internal/selftest"
	"enrollstation/internal/testenv"
	"enrollstation/internal/tpmtest"
)

// TestScreenshotsSupervisor renders the provisioning, supervisor, admin and technician
// screens at 1366x768 with the station theme into $ENROLLSTATION_SHOTS (skipped when
// unset): `ENROLLSTATION_SHOTS=/tmp/shots go test ./app -run Screenshots`, in
// $ENROLLSTATION_SHOTS_LANG (en, the default, or zh).
func TestScreenshotsSupervisor(t *testing.T) {
	dir := os.Getenv("ENROLLSTATION_SHOTS")
	if dir == "" {
		t.Skip("set ENROLLSTATION_SHOTS=DIR to write screenshots")
	}
	os.MkdirAll(dir, 0o755)
	lang := os.Getenv("ENROLLSTATION_SHOTS_LANG")
	if lang == "" {
		lang = "en"
	}
	// tabbed shows content as the selected tab among the role's tab titles, as home does.
	tabbed := func(sh *shell, titles []string, sel int, content fyne.CanvasObject) {
		var items []*container.TabItem
		for i, t := range titles {
			var c fyne.CanvasObject = widget.NewLabel("")
			if i == sel {
				c = content
			}
			items = append(items, container.NewTabItem(t, c))
		}
		tabs := container.NewAppTabs(items...)
		tabs.SelectIndex(sel)
		sh.show(tabs)
	}
	trs := func(ss ...string) []string {
		for i := range ss {
			ss[i] = tr(ss[i])
		}
		return ss
	}
	shot := func(sh *shell, name string) {
		t.Helper()
		img := sh.win.Canvas().Capture()
		f, err := os.Create(filepath.Join(dir, name+"-"+lang+".png"))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
	}
	themed := func(sh *shell) {
		setLanguage(lang)
		th, _ := newStationTheme()
		sh.app.Settings().SetTheme(th)
		sh.win.Resize(fyne.NewSize(1366, 768))
	}

	// Provisioning wizard, each step.
	sim := tpmtest.Start(t)
	sim.CloseConn()
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	sh := newShell(context.Background(), a, w, &cli.Env{Data: filepath.Join(t.TempDir(), "st"), TPM: sim.Addr()}, false)
	t.Cleanup(sh.close)
	t.Cleanup(func() { setLanguage("en") })
	themed(sh)
	sh.start()
	p := sh.current.(*provisioning)
	p.name.SetText("Counter 3")
	p.site.SetText("Town Hall, ground floor")
	shot(sh, "provision-1-station")
	p.goTo(1)
	shot(sh, "provision-2-tpm")
	keys := t.TempDir()
	s0 := newSupStation(t)
	pub, _ := s0.issuer.Public().MarshalText()
	os.WriteFile(filepath.Join(keys, "issuer.pub"), pub, 0o644)
	p.goTo(2)
	p.keyPath.SetText(filepath.Join(keys, "issuer.pub"))
	p.keyOK.SetChecked(true)
	shot(sh, "provision-3-issuer-key")
	p.goTo(3)
	p.admin.SetText("admin")
	shot(sh, "provision-4-admin")
	p.pw.SetText("admin-password")
	p.pw2.SetText("admin-password")
	p.forward()
	if err := <-p.finished; err != nil {
		t.Fatal(err)
	}
	shot(sh, "provision-5-ready")

	// Supervisor screens on a station with a few enrollments.
	s := s0
	s.enroll("clara", "bona.jpg", "BONA")
	s.enroll("clara", "bona3.jpg", "BONA")
	s.enroll("sue", "luda.jpg", "LUDA")
	s.enroll("clara", "chaeyoung.jpg", "CHAE")
	s.enroll("clara", "joy.jpg", "JOY")
	sam := s.shellFor("sam", "")
	themed(sam)
	q := newReviewQueue(sam)
	tabbed(sam, trs("Review queue", "Batches & export", "Dashboard", "Audit log"), 0, q.content)
	q.showDetail(s.ids["bona.jpg"])
	shot(sam, "supervisor-queue")
	if err := q.reject(s.ids["bona3.jpg"], "duplicate"); err != nil {
		t.Fatal(err)
	}
	if err := q.approve([]string{s.ids["bona.jpg"], s.ids["luda.jpg"], s.ids["joy.jpg"]}, "sam-password"); err != nil {
		t.Fatal(err)
	}
	b := newBatchScreen(sam)
	tabbed(sam, trs("Review queue", "Batches & export", "Dashboard", "Audit log"), 1, b.content)
	b.closeBatch()
	b.target.SetText(t.TempDir())
	b.startExport()
	<-b.done
	shot(sam, "supervisor-batches")
	tabbed(sam, trs("Review queue", "Batches & export", "Dashboard", "Audit log"), 2, newDashboard(sam).content)
	shot(sam, "supervisor-dashboard")
	au := newAuditScreen(sam)
	tabbed(sam, trs("Review queue", "Batches & export", "Dashboard", "Audit log"), 3, au.content)
	au.verify()
	shot(sam, "supervisor-audit")

	// Administrator.
	root := s.shellFor("root", "")
	themed(root)
	tabbed(root, trs("Users", "Station settings", "Audit log"), 0, newUserAdmin(root).content)
	shot(root, "admin-users")
	tabbed(root, trs("Users", "Station settings", "Audit log"), 1, newSettingsScreen(root).content)
	shot(root, "admin-settings")

	// Technician: camera bench on the demo video, calibration, diagnostics.
	tom := s.shellFor("tom", filepath.Join(testenv.Root(), "testdata", "demo.mp4"))
	themed(tom)
	tech := &techState{}
	c := newCameraScreen(tom, tech)
	tabbed(tom, trs("Cameras", "Diagnostics"), 0, c.content)
	c.source.SetText(filepath.Join(testenv.Root(), "testdata", "demo.mp4"))
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan capture.Verdict, 1)
	c.calibrate(done)
	<-done
	shot(tom, "technician-cameras")
	td := newTechDiagnostics(tom, tech)
	fin := make(chan []selftest.Result, 1)
	td.diag.onDone = func(rs []selftest.Result) { fin <- rs }
	tabbed(tom, trs("Cameras", "Diagnostics"), 1, td.content)
	td.diag.Start(context.Background())
	<-fin
	td.showFacts()
	shot(tom, "technician-diagnostics")
	c.stopPreview()
}
