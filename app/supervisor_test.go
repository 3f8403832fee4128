package app

import (
	"bytes"
	"context"
	"errors"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
	"gocv.io/x/gocv"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/cli"
	"enrollstation/enroll"
	"enrollstation/exporter"
	"enrollstation/internal/testenv"
	"enrollstation/internal/testkit"
	"enrollstation/internal/tpmtest"
	"enrollstation/vault"
)

var (
	supRecOnce sync.Once
	supRec     *biometrics.Recognizer
	supRecErr  error
)

// supStation is a provisioned station (real swtpm, real encrypted store) with an
// administrator, a clerk, a supervisor, a supervisor who is also a clerk, a technician,
// an issuer key pair and a few pending enrollments made through the clerk's workflow.
type supStation struct {
	t      *testing.T
	dir    string
	tp     *vault.TPM
	st     *vault.Station
	issuer *exporter.IssuerPrivateKey
	keys   string // directory with issuer.key, issuer.pub
	ids    map[string]string
	pw     map[string]string // passwords other than NAME-password
}

var supKDF = testkit.FastKDF

// supUsers are the supervisor tests' operators (passwords NAME-password).
var supUsers = []testkit.User{
	{Name: "clara", Roles: []vault.Role{vault.RoleClerk}}, {Name: "sam", Roles: []vault.Role{vault.RoleSupervisor}},
	{Name: "sue", Roles: []vault.Role{vault.RoleSupervisor, vault.RoleClerk}}, {Name: "tom", Roles: []vault.Role{vault.RoleTechnician}},
}

func newSupStation(t *testing.T) *supStation {
	t.Helper()
	return newSupStationOn(t, tpmtest.Start(t))
}

// newSupStationOn is newSupStation on a given software TPM (e.g. one with an EK
// certificate, for attestation).
func newSupStationOn(t *testing.T, sim *tpmtest.Sim) *supStation {
	t.Helper()
	s := &supStation{t: t, dir: t.TempDir(), keys: t.TempDir(), ids: map[string]string{}}
	var err error
	if s.tp, err = vault.NewTPM(sim.TPM(), "software"); err != nil {
		t.Fatal(err)
	}
	if s.issuer, err = exporter.GenerateIssuerKey(); err != nil {
		t.Fatal(err)
	}
	priv, _ := s.issuer.MarshalText()
	pub, _ := s.issuer.Public().MarshalText()
	os.WriteFile(filepath.Join(s.keys, "issuer.key"), priv, 0o600)
	os.WriteFile(filepath.Join(s.keys, "issuer.pub"), pub, 0o644)
	s.st, err = enroll.Provision(testkit.Opener{Data: s.dir}, s.tp, vault.Config{KDF: supKDF}, enroll.ProvisionOptions{
		Name: "Counter 1", Site: "Town Hall", Admin: "root", AdminPassword: "root-password", IssuerKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.st.Close() })
	testkit.AddUsers(t, s.st, s.login("root"), supUsers...)
	return s
}

func (s *supStation) login(name string) *vault.Session {
	s.t.Helper()
	pw := name + "-password"
	if p, ok := s.pw[name]; ok {
		pw = p
	}
	sess, err := s.st.Login(name, pw)
	if err != nil {
		s.t.Fatalf("login %s: %v", name, err)
	}
	return sess
}

// enroll submits a pending enrollment as clerk through the clerk's workflow, with a test
// photo as frame and portrait (forced when it fails the checks).
func (s *supStation) enroll(clerk, photo, family string) string {
	t := s.t
	t.Helper()
	supRecOnce.Do(func() { supRec, supRecErr = biometrics.NewRecognizer(testenv.ModelsDir(t)) })
	if supRecErr != nil {
		t.Fatal(supRecErr)
	}
	img, err := os.ReadFile(testenv.Face(t, photo))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := biometrics.NewAssessor(supRec, biometrics.DefaultConfig()).AssessBytes(img)
	if err != nil || rep.Template == nil {
		t.Fatalf("assess %s: %v", photo, err)
	}
	// The camera frame is wider than the portrait: the photo with a margin around it,
	// downscaled as the capture keeps it.
	m, err := gocv.IMDecode(img, gocv.IMReadColor)
	if err != nil {
		t.Fatal(err)
	}
	wide := gocv.NewMat()
	gocv.CopyMakeBorder(m, &wide, 0, 0, m.Cols()/3, m.Cols()/3, gocv.BorderReplicate, color.RGBA{})
	m.Close()
	frame, err := enroll.FrameJPEG(wide)
	wide.Close()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := &enroll.Capture{Frame: frame, Portrait: img, Report: rep, Template: *rep.Template, Camera: "test", At: now,
		Width: rep.Width, Height: rep.Height, Forced: !rep.Pass, Reason: "test photo, not an ICAO portrait"}
	d := enroll.DetailsFromIdentity(testkit.ExampleIdentity(t))
	d.FamilyName = family
	appNo, _ := enroll.NewApplicationNumber(now)
	e, err := enroll.Submit(s.st, s.login(clerk), d, appNo, &enroll.Review{Capture: c}, true)
	if err != nil {
		t.Fatal(err)
	}
	s.ids[photo] = e.ID
	return e.ID
}

// detailImages lists the images in a tree of containers, in tree order.
func detailImages(o fyne.CanvasObject) []*canvas.Image {
	switch v := o.(type) {
	case *canvas.Image:
		return []*canvas.Image{v}
	case *fyne.Container:
		var out []*canvas.Image
		for _, c := range v.Objects {
			out = append(out, detailImages(c)...)
		}
		return out
	case *container.Scroll:
		if v.Direction == container.ScrollVerticalOnly {
			return detailImages(v.Content) // the detail's scrolling part
		}
	}
	return nil // widgets (scrolls of duplicates, labels) are not looked into
}

// shellFor opens a headless window with the shell on this station, logged in as user.
func (s *supStation) shellFor(user string, camera string) *shell {
	s.t.Helper()
	a := test.NewTempApp(s.t)
	w := test.NewTempWindow(s.t, nil)
	w.Resize(fyne.NewSize(1366, 768))
	cfg := enroll.Config{Data: s.dir, TPM: "swtpm", Models: testenv.ModelsDir(s.t), Camera: camera}
	ctx, cancel := context.WithCancel(context.Background())
	s.t.Cleanup(cancel)
	sh := newShell(ctx, a, w, cfg, testOpener(cfg), false)
	sh.tpm, sh.station = s.tp, s.st
	s.t.Cleanup(func() {
		for _, f := range sh.onLogout {
			f()
		}
		sh.idle.stop()
	})
	if user != "" {
		sh.loggedIn(s.login(user))
	}
	return sh
}

func markup(sh *shell) string { return test.RenderToMarkup(sh.win.Canvas()) }

func TestProvisioningWizardOnFreshDataDir(t *testing.T) {
	sim := tpmtest.Start(t)
	sim.CloseConn() // the shell connects itself, as the real program does
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	w.Resize(fyne.NewSize(1366, 768))
	keys := t.TempDir()
	issuer, _ := exporter.GenerateIssuerKey()
	pub, _ := issuer.Public().MarshalText()
	os.WriteFile(filepath.Join(keys, "issuer.pub"), pub, 0o644)
	os.WriteFile(filepath.Join(keys, "junk.pub"), []byte("junk"), 0o644)
	data := filepath.Join(t.TempDir(), "station")
	cfg := enroll.Config{Data: data, TPM: sim.Addr(), Models: testenv.ModelsDir(t), Camera: "synthetic"}
	sh := newShell(context.Background(), a, w, cfg, testOpener(cfg), false)
	t.Cleanup(sh.close)
	sh.start()
	p, ok := sh.current.(*provisioning)
	if !ok {
		t.Fatalf("fresh data dir shows %T, want the provisioning wizard", sh.current)
	}
	test.Tap(p.next)
	if p.step != 0 || !strings.Contains(p.status.Text, "name") {
		t.Fatalf("empty station name accepted: step %d %q", p.step, p.status.Text)
	}
	test.Type(p.name, "Counter 9")
	test.Type(p.site, "Harbour Office")
	test.Tap(p.next)
	if m := markup(sh); p.step != 1 || !strings.Contains(m, "SOFTWARE TPM") {
		t.Fatalf("TPM step lacks the software TPM warning (step %d):\n%s", p.step, m)
	}
	test.Tap(p.next)
	if p.keyOK.Visible() {
		t.Error("the issuer-key step asks to confirm a fingerprint before any key is read")
	}
	p.keyPath.SetText(filepath.Join(keys, "junk.pub"))
	test.Tap(p.next)
	if p.step != 2 {
		t.Fatal("a junk issuer key was accepted")
	}
	p.keyPath.SetText(filepath.Join(keys, "issuer.pub"))
	if !strings.Contains(p.keyFP.Text, issuer.Public().Fingerprint()) {
		t.Fatalf("fingerprint shown %q, want %q", p.keyFP.Text, issuer.Public().Fingerprint())
	}
	test.Tap(p.next)
	if p.step != 2 {
		t.Fatal("moved on without confirming the fingerprint")
	}
	test.Tap(p.keyOK)
	test.Tap(p.next)
	test.Type(p.admin, "chief")
	test.Type(p.pw, "chief-password")
	test.Type(p.pw2, "chief-passwore")
	test.Tap(p.next)
	if !strings.Contains(p.status.Text, "differ") {
		t.Fatalf("mismatched passwords: %q", p.status.Text)
	}
	p.pw2.SetText("chief-password")
	test.Tap(p.next)
	if err := <-p.finished; err != nil {
		t.Fatal(err)
	}
	if m := markup(sh); !strings.Contains(m, "The station is ready") || !strings.Contains(m, issuer.Public().Fingerprint()) || !strings.Contains(m, "ECDSA P-256") ||
		!strings.Contains(m, "enrollstation station pubkey --data "+data+" --tpm "+sim.Addr()) {
		t.Fatalf("summary after provisioning:\n%s", m)
	}
	// The recovery code is shown once, on the summary; the store holds only its hash.
	if m := markup(sh); len(p.recoveryCode) < 32 || !strings.Contains(m, p.recoveryCode) || sh.station != nil && sh.station.TakeRecoveryCode() != "" {
		t.Fatalf("recovery code %q on the summary:\n%s", p.recoveryCode, m)
	}
	test.Tap(p.cont)
	if sh.station == nil || !vault.Initialized(data) {
		t.Fatal("no station after the wizard")
	}
	if _, ok := sh.current.(*provisioning); ok {
		t.Fatal("the wizard is still shown after provisioning")
	}
	set, _ := enroll.Settings(sh.station)
	if set.StationName != "Counter 9" || set.Site != "Harbour Office" || len(set.IssuerKey) == 0 {
		t.Fatalf("settings after provisioning: %+v", set)
	}
	sess, err := sh.station.Login("chief", "chief-password")
	if err != nil || !sess.Has(vault.RoleAdmin) {
		t.Fatalf("first administrator: %v", err)
	}
}

func TestSupervisorReviewApproveRejectExportVerify(t *testing.T) {
	s := newSupStation(t)
	bona := s.enroll("clara", "bona.jpg", "BONA")
	dup := s.enroll("clara", "bona3.jpg", "BONA") // the same person again
	own := s.enroll("sue", "luda.jpg", "LUDA")    // captured by a supervisor

	// A clerk cannot reach the supervisor's screens.
	clerk := s.shellFor("clara", "")
	if _, ok := clerk.current.(*reviewQueue); ok {
		t.Fatal("a clerk sees the review queue")
	}
	if m := markup(clerk); strings.Contains(m, "Review queue") || strings.Contains(m, "Batches") {
		t.Fatalf("a clerk's home shows supervisor tabs:\n%s", m)
	}

	// Sue (supervisor and clerk) sees both; she may not decide on her own capture.
	sue := s.shellFor("sue", "")
	if m := markup(sue); !strings.Contains(m, "Review queue") || !strings.Contains(m, "Enrollments") {
		t.Fatalf("supervisor+clerk home lacks a tab:\n%s", m)
	}
	q := newReviewQueue(sue)
	sue.win.SetContent(q.content)
	if len(q.all) != 3 {
		t.Fatalf("queue has %d items, want 3", len(q.all))
	}
	q.showDetail(own)
	if m := markup(sue); !strings.Contains(m, "You captured this enrollment") {
		t.Fatalf("own capture not marked:\n%s", m)
	}
	if err := q.approve([]string{own}, "sue-password"); !errors.Is(err, vault.ErrSelfApproval) {
		t.Fatalf("self-approval through the screen: %v", err)
	}

	sam := s.shellFor("sam", "")
	q = newReviewQueue(sam)
	sam.win.SetContent(q.content)
	q.showDetail(bona)
	m := markup(sam)
	for _, want := range []string{"BONA", "LIKELY SAME PERSON", "Forced capture", "Approve", "ICAO portrait", "Captured frame"} {
		if !strings.Contains(m, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	if strings.Contains(m, "no frame kept") || strings.Contains(m, "not kept") {
		t.Errorf("detail says the frame is missing:\n%s", m)
	}
	// The stored frame and the portrait are both shown as images, side by side.
	frame, err := s.st.EnrollmentFrame(bona)
	if err != nil || len(frame) == 0 {
		t.Fatalf("stored frame: %d bytes, %v", len(frame), err)
	}
	fc, _ := jpeg.DecodeConfig(bytes.NewReader(frame))
	var frameImg, portraitImg *canvas.Image
	for _, ci := range detailImages(q.detail) {
		switch b := ci.Image.Bounds(); {
		case b.Dx() == fc.Width && b.Dy() == fc.Height:
			frameImg = ci
		case portraitImg == nil:
			portraitImg = ci
		}
	}
	if frameImg == nil || portraitImg == nil {
		t.Fatalf("detail shows no frame (%dx%d) beside the portrait", fc.Width, fc.Height)
	}
	drv := sam.app.Driver()
	if fp, pp := drv.AbsolutePositionForObject(frameImg), drv.AbsolutePositionForObject(portraitImg); fp.Y != pp.Y || fp.X <= pp.X {
		t.Errorf("frame at %v is not beside the portrait at %v", fp, pp)
	}
	test.Type(q.filter, "LUDA")
	if len(q.rows) != 1 || q.rows[0].ID != own {
		t.Fatalf("filter: %+v", q.rows)
	}
	q.filter.SetText("")
	if err := q.approve([]string{bona}, "wrong-password"); !errors.Is(err, vault.ErrBadPassword) {
		t.Fatalf("approve with a wrong password: %v", err)
	}
	// Reject asks for a reason (translated labels) and the password, like Approve.
	var ask *rejectAsk
	sam.notify = func(ev string, x any) {
		if a, ok := x.(*rejectAsk); ok && ev == "ask-reject" {
			ask = a
		}
	}
	q.showDetail(dup)
	test.Tap(q.rejectBtn)
	if ask == nil {
		t.Fatal("Reject did not ask")
	}
	if !contains(ask.reasons.Options, "The applicant is already enrolled") || contains(ask.reasons.Options, "duplicate") {
		t.Errorf("reason labels %q", ask.reasons.Options)
	}
	ask.dlg.Submit() // no reason chosen
	if e, _ := s.st.Enrollment(dup); e.Status != vault.StatusPending || !strings.Contains(q.status.Text, "Choose a reason") {
		t.Fatalf("rejected without a reason: %s, %q", e.Status, q.status.Text)
	}
	test.Tap(q.rejectBtn)
	ask.reasons.SetSelectedIndex(2)
	test.Type(ask.pw, "wrong-password")
	ask.dlg.Submit()
	if e, _ := s.st.Enrollment(dup); e.Status != vault.StatusPending {
		t.Fatalf("rejected with a wrong password: %s", e.Status)
	}
	test.Tap(q.rejectBtn)
	ask.reasons.SetSelected("The applicant is already enrolled")
	test.Type(ask.pw, "sam-password")
	ask.dlg.Submit()
	if e, _ := s.st.Enrollment(dup); e.Status != vault.StatusRejected || e.RejectReason != "duplicate" || e.RejectedBy != "sam" {
		t.Fatalf("after Reject: %s %q by %q (%s)", e.Status, e.RejectReason, e.RejectedBy, q.status.Text)
	}
	if err := q.approve([]string{bona, own}, "sam-password"); err != nil {
		t.Fatal(err)
	}
	if len(q.all) != 0 {
		t.Fatalf("queue after decisions: %+v", q.all)
	}
	for id, want := range map[string]vault.Status{bona: vault.StatusApproved, own: vault.StatusApproved, dup: vault.StatusRejected} {
		if e, _ := s.st.Enrollment(id); e.Status != want {
			t.Fatalf("%s is %s, want %s", id, e.Status, want)
		}
	}

	// Close a batch and export it to a directory with the screen.
	b := newBatchScreen(sam)
	sam.win.SetContent(b.content)
	if err := b.closeBatch(); err != nil {
		t.Fatal(err)
	}
	usb := t.TempDir()
	b.target.SetText(usb)
	test.Tap(b.exportBtn)
	if err := <-b.done; err != nil {
		t.Fatalf("export: %v (%s)", err, b.status.Text)
	}
	if len(b.batches) != 1 || b.batches[0].State != enroll.ExportConfirmed || b.progress.Value != 1 {
		t.Fatalf("history after export: %+v progress %v", b.batches, b.progress.Value)
	}
	loc := b.batches[0].Location

	// The issuer's `enrollstation verify` accepts the bundle.
	stationPEM := filepath.Join(s.keys, "station.pem")
	os.WriteFile(stationPEM, s.st.PublicKeyPEM(), 0o644)
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), []string{"verify", "--issuer-key", filepath.Join(s.keys, "issuer.key"), "--station-key", stationPEM, loc},
		strings.NewReader(""), &out, &errb, cli.Commands(), testCLIRoot)
	if code != 0 || !strings.Contains(out.String(), bona) || !strings.Contains(out.String(), own) {
		t.Fatalf("verify: exit %d\n%s%s", code, out.String(), errb.String())
	}

	// Import the issuer's acknowledgement through the screen.
	f, _ := os.Open(loc)
	bundle, err := exporter.Open(f, s.issuer, s.st.PublicKey(), exporter.OpenOptions{})
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The issuer accepts bona and refuses luda: only bona's biometrics go.
	ack, _ := exporter.MakeAck(s.issuer, bundle, map[string]string{own: "photo unusable"}, time.Now())
	ackFile := filepath.Join(s.keys, "ack.json")
	os.WriteFile(ackFile, ack, 0o644)
	if err := b.importAck(ackFile); err != nil {
		t.Fatal(err)
	}
	if b.batches[0].State != enroll.ExportAcknowledged {
		t.Fatalf("state after ack: %s", b.batches[0].State)
	}
	if !strings.Contains(b.status.Text, "photo unusable") || !strings.Contains(markup(sam), "1 accepted, 1 refused") {
		t.Fatalf("ack outcome not shown: %q\n%s", b.status.Text, markup(sam))
	}
	if e, _ := s.st.Enrollment(bona); e.Status != vault.StatusPurged || e.Portrait != nil {
		t.Fatalf("accepted record after ack: %s, portrait %d bytes", e.Status, len(e.Portrait))
	}
	if e, _ := s.st.Enrollment(own); e.Status != vault.StatusExported || e.Portrait == nil || e.IssuerRefusal != "photo unusable" {
		t.Fatalf("refused record after ack: %s, portrait %d bytes, refusal %q", e.Status, len(e.Portrait), e.IssuerRefusal)
	}

	// Dashboard charts are real PNGs; the audit chain verifies.
	d := newDashboard(sam)
	if len(d.charts) < 3 {
		t.Fatalf("dashboard rendered %d charts", len(d.charts))
	}
	for title, b := range d.charts {
		if _, err := png.Decode(bytes.NewReader(b)); err != nil {
			t.Fatalf("chart %s: %v", title, err)
		}
	}
	if d.stats.RejectReasons["duplicate"] != 1 || d.stats.PerClerk["clara"] != 2 {
		t.Fatalf("stats: %+v", d.stats)
	}
	a := newAuditScreen(sam)
	if rep := a.verify(); rep == nil || !rep.OK() || !strings.Contains(a.verdict.Text, "Chain intact") {
		t.Fatalf("audit verify: %+v %q", rep, a.verdict.Text)
	}
	a.action.SetSelected(auditActionLabel("enrollment.reject"))
	if len(a.rows) != 1 || a.rows[0].Object != dup {
		t.Fatalf("audit filter by action: %+v", a.rows)
	}
}

func TestTechnicianCameraProfileReappliedOnNextStart(t *testing.T) {
	s := newSupStation(t)
	sh := s.shellFor("tom", "synthetic")
	if m := markup(sh); strings.Contains(m, "Review queue") {
		t.Fatal("a technician sees the review queue")
	}
	c := newCameraScreen(sh, &techState{})
	sh.win.SetContent(c.content)
	if c.loadedID != "" {
		t.Fatal("a profile loaded before any was saved")
	}
	c.source.SetText("synthetic")
	c.resolution.SetSelected("640x480")
	c.fps.SetSelected("15")
	c.name.SetText("bench")
	c.autoExp.SetChecked(false)
	c.exposure.SetValue(300)
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan capture.Verdict, 1)
	c.calibrate(done)
	v := <-done
	if err := c.applyControls(); err == nil {
		t.Fatal("controls applied to a synthetic source")
	}
	// The headless driver runs UI updates on the caller's goroutine, so the preview
	// stops before the test reads the widgets.
	c.stopPreview()
	if len(v.Checks) == 0 || !strings.Contains(markup(sh), "Calibration:") {
		t.Fatalf("calibration verdict %+v not shown", v)
	}
	if err := c.save(); err != nil {
		t.Fatal(err)
	}

	// Next start: the station opens again and the camera screen re-applies the profile.
	if err := s.st.Close(); err != nil {
		t.Fatal(err)
	}
	st, err := vault.Open(s.dir, s.tp, vault.Config{KDF: supKDF})
	if err != nil {
		t.Fatal(err)
	}
	s.st = st
	sh2 := s.shellFor("tom", "")
	c2 := newCameraScreen(sh2, &techState{})
	if c2.loadedID == "" || c2.source.Text != "synthetic" || c2.resolution.Selected != "640x480" || c2.fps.Selected != "15" || c2.name.Text != "bench" || c2.autoExp.Checked || c2.exposure.Value != 300 {
		t.Fatalf("profile not re-applied: source %q res %q fps %q name %q exposure %v", c2.source.Text, c2.resolution.Selected, c2.fps.Selected, c2.name.Text, c2.exposure.Value)
	}
	def := capture.Options{Width: 1280, Height: 720, Loop: true}
	if o, err := enroll.CameraOptions(sh2.station, "synthetic", def); err != nil || o.Width != 640 || o.FPS != 15 || o.Controls == nil || o.Controls.Exposure == nil || *o.Controls.Exposure != 300 || !o.Loop {
		t.Fatalf("capture options from the station profile: %+v", o)
	}
	if o, err := enroll.CameraOptions(sh2.station, "/dev/video9", def); err != nil || o.Width != 1280 || o.Controls != nil {
		t.Fatalf("another camera got the profile's options: %+v", o)
	}
	p, _, err := enroll.ActiveCameraProfile(st)
	if err != nil {
		t.Fatal(err)
	}
	pump, err := capture.StartPump(context.Background(), p.Opener(), capture.PumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fr, err := pump.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	w, h := fr.Mat.Cols(), fr.Mat.Rows()
	fr.Close()
	pump.Stop()
	if w != 640 || h != 480 {
		t.Fatalf("camera opened with the profile gives %dx%d, want 640x480", w, h)
	}

	// Diagnostics: the report carries no citizen data.
	s.enroll("clara", "bona.jpg", "ZYXWVU")
	td := newTechDiagnostics(sh2, &techState{})
	var rep bytes.Buffer
	if err := td.writeReport(&rep); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rep.String(), `"station_id"`) || !strings.Contains(rep.String(), `"pending": 1`) || strings.Contains(rep.String(), "ZYXWVU") ||
		!strings.Contains(rep.String(), `"disk_free_bytes": `) || strings.Contains(rep.String(), `"disk_free_bytes": 0,`) {
		t.Fatalf("diagnostics report:\n%s", rep.String())
	}
}

func TestAdminUsersAndSettings(t *testing.T) {
	s := newSupStation(t)
	sh := s.shellFor("root", "")
	u := newUserAdmin(sh)
	if err := u.add("tina", "short", []string{"technician"}); !errors.Is(err, vault.ErrWeakPassword) || u.status.Text != "Passwords must be at least 8 characters, and not only spaces." {
		t.Fatalf("weak password: %v, status %q", err, u.status.Text)
	}
	if err := u.add("tina", "tina-password", nil); !errors.Is(err, vault.ErrInvalid) || u.status.Text != "Choose at least one role." {
		t.Fatalf("no role: %v, status %q", err, u.status.Text)
	}
	// The check group offers labels; they map back to roles.
	if err := u.add("tina", "tina-password", []string{roleLabel(vault.RoleTechnician)}); err != nil {
		t.Fatal(err)
	}
	if err := u.add("tina", "tina-password", []string{"clerk"}); !errors.Is(err, vault.ErrUserExists) || !strings.HasPrefix(u.status.Text, "An operator with that name already exists.") {
		t.Fatalf("second tina: %v, status %q", err, u.status.Text)
	}
	for i, o := range u.users {
		if o.Name == "tina" {
			u.selected = i
		}
	}
	if err := u.toggleLock(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.Login("tina", "tina-password"); !errors.Is(err, vault.ErrAccountLocked) {
		t.Fatalf("locked account logs in: %v", err)
	}
	otp, err := u.reset("tina")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.st.Login("tina", otp); !errors.Is(err, vault.ErrPasswordChangeRequired) {
		t.Fatalf("login with the one-time password: %v", err)
	}
	if err := s.st.ChangePassword("tina", otp, "tina-newer-password"); err != nil {
		t.Fatal(err)
	}
	if err := u.setRoles("tina", []string{"technician", "supervisor"}); err != nil {
		t.Fatal(err)
	}
	if sess, err := s.st.Login("tina", "tina-newer-password"); err != nil || !sess.Has(vault.RoleSupervisor) {
		t.Fatalf("after reset and roles: %v", err)
	}
	if _, err := s.st.SupervisorKey("tina"); err != nil {
		t.Fatalf("promoted supervisor's approval key after login: %v", err)
	}

	set := newSettingsScreen(sh)
	set.idle.SetText("0")
	if err := set.save(); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("idle lock 0 saved: %v", err)
	}
	if strings.Contains(set.status.Text, "vault:") || !strings.Contains(set.status.Text, "Idle lock must be 1 to 240 minutes") {
		t.Errorf("refusal shown as %q", set.status.Text)
	}
	set.idle.SetText("7")
	// Languages by name; thresholds as numbers, only changed ones stored.
	if contains(set.language.Options, "zh") || !contains(set.language.Options, "中文（简体）") {
		t.Errorf("language choices %q", set.language.Options)
	}
	set.quality.entries["MaxYaw"].SetText("abc")
	if err := set.save(); err == nil || !strings.Contains(set.status.Text, "enter a number") {
		t.Fatalf("a non-number threshold saved: %v %q", err, set.status.Text)
	}
	set.quality.entries["MaxYaw"].SetText("8")
	set.language.SetSelected(languageName("zh"))
	if err := set.save(); err != nil {
		t.Fatal(err)
	}
	if got, _ := enroll.Settings(s.st); got.IdleLockMinutes != 7 || got.Language != "zh" || string(got.Quality) != `{"MaxYaw":8}` {
		t.Fatalf("settings: %+v (quality %s)", got, got.Quality)
	}
	if currentLanguage() != "zh" {
		t.Fatalf("language after saving zh: %s", currentLanguage())
	}
	set.language.SetSelected(languageName("en"))
	if err := set.save(); err != nil || currentLanguage() != "en" {
		t.Fatalf("back to English: %v, %s", err, currentLanguage())
	}
	other, _ := exporter.GenerateIssuerKey()
	pub, _ := other.Public().MarshalText()
	if err := set.importKey(pub, nil); !errors.Is(err, vault.ErrSecondPersonRequired) {
		t.Fatalf("issuer key change by one administrator: %v", err)
	}
	second, err := s.st.Login("sam", "sam-password")
	if err != nil {
		t.Fatal(err)
	}
	if err := set.importKey(pub, second); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(set.keyInfo.Text, other.Public().Fingerprint()) {
		t.Fatalf("fingerprint shown: %q", set.keyInfo.Text)
	}
}

// The demo: a fresh demo station walks through the (prefilled) wizard, gets demo
// accounts and its own issuer key, whose private half stays in the data directory;
// then one enrollment is approved, exported and opened with that key.
func TestDemoWalkThrough(t *testing.T) {
	sim := tpmtest.Start(t)
	sim.CloseConn()
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	data := t.TempDir()
	cfg := enroll.Config{Data: data, TPM: sim.Addr(), Models: testenv.ModelsDir(t), Camera: "synthetic"}
	sh := newShell(context.Background(), a, w, cfg, testOpener(cfg), true)
	t.Cleanup(sh.close)
	sh.start()
	// A demo walks through the wizard, prefilled: Next on every step creates the station.
	if p, ok := sh.current.(*provisioning); ok {
		for range p.steps {
			test.Tap(p.next)
		}
		if err := <-p.finished; err != nil {
			t.Fatal(err)
		}
		test.Tap(p.cont)
	}
	if sh.station == nil {
		t.Fatalf("demo station not provisioned:\n%s", markup(sh))
	}
	for _, a := range demoAccounts {
		if _, err := sh.station.Login(a.Name, a.Password); err != nil {
			t.Fatalf("demo account %s: %v", a.Name, err)
		}
	}
	k, err := enroll.IssuerKey(sh.station)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(data, "demo-issuer", "issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	priv, err := exporter.ParseIssuerPrivateKey(b)
	if err != nil || !priv.Public().Equal(k) {
		t.Fatalf("demo issuer private key does not match the station's issuer key: %v", err)
	}

	// The rest of the demo: one enrollment by the demo clerk, approved and exported by
	// the demo supervisor on the screens, opened with the demo issuer key.
	s := &supStation{t: t, dir: data, tp: sh.tpm, st: sh.station, ids: map[string]string{}}
	for _, a := range demoAccounts {
		if a.Name == "clerk" {
			s.pw = map[string]string{"clerk": a.Password}
		}
	}
	id := s.enroll("clerk", "bona.jpg", "DEMO")
	var supPW string
	for _, a := range demoAccounts {
		if a.Name == "supervisor" {
			supPW = a.Password
		}
	}
	sup, err := sh.station.Login("supervisor", supPW)
	if err != nil {
		t.Fatal(err)
	}
	sh.loggedIn(sup)
	q := newReviewQueue(sh)
	if err := q.approve([]string{id}, supPW); err != nil {
		t.Fatal(err)
	}
	bs := newBatchScreen(sh)
	if err := bs.closeBatch(); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(data, "demo-export"); bs.target.Text != want {
		t.Fatalf("demo export target %q, want %q", bs.target.Text, want)
	}
	bs.startExport()
	if err := <-bs.done; err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(bs.status.Text, "enrollstation verify --issuer-key") {
		t.Fatalf("demo export does not say how to verify: %q", bs.status.Text)
	}
	// What the message says works: the CLI's verify with the files it names.
	var vout, verr bytes.Buffer
	if code := cli.Main(context.Background(), []string{"verify", "--issuer-key", filepath.Join(data, "demo-issuer", "issuer.key"),
		"--station-key", filepath.Join(data, "demo-export", "station.pem"), bs.batches[0].Location},
		strings.NewReader(""), &vout, &verr, cli.Commands(), testCLIRoot); code != 0 {
		t.Fatalf("verify as the demo says: exit %d\n%s%s", code, vout.String(), verr.String())
	}
	f, _ := os.Open(bs.batches[0].Location)
	defer f.Close()
	bundle, err := exporter.Open(f, priv, sh.station.PublicKey(), exporter.OpenOptions{})
	if err != nil || len(bundle.Records) != 1 || bundle.Records[0].EnrollmentID != id {
		t.Fatalf("demo bundle: %v", err)
	}
}

// submitClean stores a pending enrollment that passed every check (no forced capture, a
// template unlike any other), as the clerk's workflow would for a good capture.
func (s *supStation) submitClean(clerk string, seed uint64) string {
	t := s.t
	t.Helper()
	img, err := os.ReadFile(testenv.Face(t, "joy.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	var d biometrics.Descriptor
	for i := range d {
		d[i] = float32((int(seed)*31+i*17)%23-11) / 40
	}
	tmpl, _ := biometrics.NewTemplate(d, 0).MarshalBinary()
	q := []byte(`{"pass":true,"score":93,"measures":[{"id":"SingleFacePresent","raw":1,"score":100,"pass":true,"mandatory":true}]}`)
	e := &vault.Enrollment{Status: vault.StatusPending, Portrait: img, Template: tmpl, Quality: q,
		Demographics: vault.Demographics{Surname: "CLEAN", GivenNames: "Case", ApplicationNumber: "261125-000000-0"}}
	if err := s.st.SaveEnrollment(s.login(clerk), e); err != nil {
		t.Fatal(err)
	}
	return e.ID
}

func TestApproveAllCleanWithOnePasswordEntry(t *testing.T) {
	s := newSupStation(t)
	clean1, clean2 := s.submitClean("clara", 1), s.submitClean("clara", 2)
	flagged := s.enroll("clara", "bona.jpg", "BONA") // forced: left for individual review
	sam := s.shellFor("sam", "")
	q := newReviewQueue(sam)
	sam.win.SetContent(q.content)
	if q.cleanBtn.Disabled() || !strings.Contains(q.summary.Text, "3 pending, 2 clean") {
		t.Fatalf("summary %q, clean button disabled %v", q.summary.Text, q.cleanBtn.Disabled())
	}
	test.Tap(q.cleanBtn)
	// The password dialog has the focus: type the password and press Enter.
	pw, ok := sam.win.Canvas().Focused().(*widget.Entry)
	if !ok {
		t.Fatalf("focus is on %T, want the password entry", sam.win.Canvas().Focused())
	}
	test.Type(pw, "sam-password")
	pw.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	for id, want := range map[string]vault.Status{clean1: vault.StatusApproved, clean2: vault.StatusApproved, flagged: vault.StatusPending} {
		if e, _ := s.st.Enrollment(id); e.Status != want {
			t.Fatalf("%s is %s, want %s (%s)", id, e.Status, want, q.status.Text)
		}
	}
	if len(q.all) != 1 || !q.cleanBtn.Disabled() {
		t.Fatalf("queue after bulk approval: %d items", len(q.all))
	}
}
