package enroll

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"image/jpeg"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/exporter"
	"enrollstation/internal/testenv"
	"enrollstation/internal/testkit"
	"enrollstation/internal/tpmtest"
	"enrollstation/vault"
)

// supFixture is a provisioned station (real swtpm, real badger) with a clerk, two
// supervisors (one also a clerk) and an issuer key pair.
type supFixture struct {
	dir           string
	st            *vault.Station
	admin, clerk  *vault.Session
	sup, supClerk *vault.Session
	issuer        *exporter.IssuerPrivateKey
	issuerPub     []byte
	assessor      *biometrics.Assessor
	details       Details
}

var (
	supRecOnce sync.Once
	supRec     *biometrics.Recognizer
	supRecErr  error
)

func supAssessor(t *testing.T) *biometrics.Assessor {
	t.Helper()
	models := testenv.ModelsDir(t)
	supRecOnce.Do(func() { supRec, supRecErr = biometrics.NewRecognizer(models) })
	if supRecErr != nil {
		t.Fatal(supRecErr)
	}
	return biometrics.NewAssessor(supRec, biometrics.DefaultConfig())
}

func newSupFixture(t *testing.T) *supFixture {
	t.Helper()
	return newSupFixtureAt(t, t.TempDir(), vault.StoreOptions{})
}

// newSupFixtureAt is newSupFixture with the station's data in dir and store options.
func newSupFixtureAt(t *testing.T, dir string, store vault.StoreOptions) *supFixture {
	t.Helper()
	return newSupFixtureIssuer(t, dir, store, nil)
}

// newSupFixtureIssuer is newSupFixtureAt with the given issuer key (nil: a new one).
func newSupFixtureIssuer(t *testing.T, dir string, store vault.StoreOptions, issuer *exporter.IssuerPrivateKey) *supFixture {
	t.Helper()
	f := &supFixture{dir: dir, issuer: issuer}
	tp, err := vault.NewTPM(tpmtest.Start(t).TPM(), "software")
	if err != nil {
		t.Fatal(err)
	}
	if f.issuer == nil {
		if f.issuer, err = exporter.GenerateIssuerKey(); err != nil {
			t.Fatal(err)
		}
	}
	if f.issuerPub, err = f.issuer.Public().MarshalText(); err != nil {
		t.Fatal(err)
	}
	cfg := vault.Config{KDF: testkit.FastKDF, Store: store}
	if _, err := Provision(testkit.Opener{Data: f.dir}, tp, cfg, ProvisionOptions{Name: "Counter 1", Site: "Town Hall", Admin: "root", AdminPassword: "root-password", IssuerKey: []byte("junk")}); err == nil {
		t.Fatal("provisioning with a junk issuer key succeeded")
	}
	if vault.Initialized(f.dir) {
		t.Fatal("a refused provisioning left a station behind")
	}
	f.st, err = Provision(testkit.Opener{Data: f.dir}, tp, cfg, ProvisionOptions{Name: "Counter 1", Site: "Town Hall", Admin: "root", AdminPassword: "root-password", IssuerKey: f.issuerPub})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.st.Close() })
	f.admin = f.login(t, "root")
	testkit.AddUsers(t, f.st, f.admin, testkit.User{Name: "clara", Roles: []vault.Role{vault.RoleClerk}},
		testkit.User{Name: "sam", Roles: []vault.Role{vault.RoleSupervisor}},
		testkit.User{Name: "sue", Roles: []vault.Role{vault.RoleSupervisor, vault.RoleClerk}})
	f.clerk, f.sup, f.supClerk = f.login(t, "clara"), f.login(t, "sam"), f.login(t, "sue")
	f.assessor = supAssessor(t)
	f.details = DetailsFromIdentity(testkit.ExampleIdentity(t))
	return f
}

func (f *supFixture) login(t *testing.T, name string) *vault.Session {
	t.Helper()
	pw := name + "-password"
	s, err := f.st.Login(name, pw)
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return s
}

// enroll submits an enrollment as clerk through the clerk's workflow API, with a test
// photo as the captured frame and portrait (forced when it fails the quality checks).
func (f *supFixture) enroll(t *testing.T, clerk *vault.Session, photo, family string) *vault.Enrollment {
	t.Helper()
	return f.enrollWith(t, clerk, photo, family, nil)
}

// enrollWith is enroll with the stored portrait and frame made from the photo by
// portrait (nil: the photo itself); the template is the photo's.
func (f *supFixture) enrollWith(t *testing.T, clerk *vault.Session, photo, family string, portrait func(gocv.Mat) []byte) *vault.Enrollment {
	t.Helper()
	img, err := os.ReadFile(testenv.Face(t, photo))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := f.assessor.AssessBytes(img)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Template == nil {
		t.Fatalf("%s: no face template", photo)
	}
	m, err := gocv.IMDecode(img, gocv.IMReadColor)
	if err != nil {
		t.Fatal(err)
	}
	frame, err := FrameJPEG(m)
	pj := img
	if portrait != nil {
		pj = portrait(m)
		frame = pj
	}
	m.Close()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := &Capture{Frame: frame, Portrait: pj, Report: rep, Template: *rep.Template, Camera: "test", At: now,
		Width: rep.Width, Height: rep.Height, Forced: !rep.Pass}
	if c.Forced {
		c.Reason = "test photo is not an ICAO portrait"
	}
	appNo, err := NewApplicationNumber(now)
	if err != nil {
		t.Fatal(err)
	}
	d := f.details
	d.FamilyName = family
	e, err := Submit(f.st, clerk, d, appNo, &Review{Capture: c}, true)
	if err != nil {
		t.Fatalf("submit %s: %v", photo, err)
	}
	return e
}

func TestSupervisorQueueApproveRejectExport(t *testing.T) {
	f := newSupFixture(t)
	ctx := context.Background()
	// The technician's calibrated profile is active: every capture records its name.
	if err := f.st.AddUser(f.admin, "tina", []vault.Role{vault.RoleTechnician}, "tina-password"); err != nil {
		t.Fatal(err)
	}
	const profile = "counter 1 webcam"
	if err := SaveCameraProfile(f.st, f.login(t, "tina"), capture.CameraProfile{Name: profile, Source: "synthetic:64x48"}); err != nil {
		t.Fatal(err)
	}
	e1 := f.enroll(t, f.clerk, "bona.jpg", "BONA")
	// The captured frame is kept on the station beside the portrait, downscaled.
	frame, err := f.st.EnrollmentFrame(e1.ID)
	if err != nil || len(frame) < 4 || frame[0] != 0xff || frame[1] != 0xd8 {
		t.Fatalf("stored frame: %d bytes, %v", len(frame), err)
	}
	if cfg, err := jpeg.DecodeConfig(bytes.NewReader(frame)); err != nil || max(cfg.Width, cfg.Height) > FrameMaxSide {
		t.Fatalf("stored frame %dx%d, %v", cfg.Width, cfg.Height, err)
	}
	if e1.Capture.ProfileID != profile {
		t.Fatalf("capture profile %q, want %q", e1.Capture.ProfileID, profile)
	}
	e2 := f.enroll(t, f.clerk, "bona3.jpg", "BONA")     // same person: duplicate suspect
	e3 := f.enroll(t, f.supClerk, "pristin.jpg", "SUE") // captured by a supervisor

	q, err := PendingQueue(f.st, "sue")
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]QueueItem{}
	for _, it := range q {
		byID[it.ID] = it
	}
	if len(q) != 3 || !byID[e3.ID].Own || byID[e1.ID].Own || byID[e1.ID].Clerk != "clara" {
		t.Fatalf("queue: %+v", q)
	}
	if !byID[e1.ID].Duplicate || !byID[e2.ID].Duplicate || byID[e1.ID].BestMatch <= 0 {
		t.Fatalf("bona and bona3 not flagged as duplicates: %+v %+v", byID[e1.ID], byID[e2.ID])
	}
	if byID[e1.ID].ApplicationNumber == "" || !strings.HasPrefix(byID[e1.ID].Name, "BONA, ") || byID[e1.ID].Score < 0 {
		t.Fatalf("queue row: %+v", byID[e1.ID])
	}
	if got := (QueueFilter{Text: "sue"}).Filter(q); len(got) != 1 || got[0].ID != e3.ID {
		t.Fatalf("filter by clerk: %+v", got)
	}
	SortQueue(q, "clerk", true)
	if q[0].Clerk != "sue" {
		t.Fatalf("sort by clerk desc: %+v", q)
	}
	dups, err := Duplicates(f.st, e1.ID, 3)
	if err != nil || len(dups) == 0 || dups[0].ID != e2.ID || !dups[0].Match {
		t.Fatalf("duplicates of bona: %+v %v", dups, err)
	}

	// Self-approval is refused; a clean bulk approval skips flagged and own items.
	if _, err := f.st.Approve(f.supClerk, e3.ID); !errors.Is(err, vault.ErrSelfApproval) {
		t.Fatalf("self-approval: %v", err)
	}
	res, err := ApproveClean(f.st, f.supClerk, q)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Approved) != 0 || res.Skipped[e3.ID] != "own capture" || res.Skipped[e1.ID] == "" {
		t.Fatalf("bulk approve: %+v", res)
	}
	if err := Reject(f.st, f.sup, e2.ID, "because"); !errors.Is(err, ErrUnknownReason) {
		t.Fatalf("free-text reason: %v", err)
	}
	if err := Reject(f.st, f.sup, e2.ID, "duplicate"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{e1.ID, e3.ID} {
		if _, err := f.st.Approve(f.sup, id); err != nil {
			t.Fatalf("approve %s: %v", id, err)
		}
	}

	// Close a batch and export it to a directory; the issuer's verify accepts it.
	if _, err := CloseBatch(f.st, f.clerk); !errors.Is(err, vault.ErrForbidden) {
		t.Fatalf("clerk closing a batch: %v", err)
	}
	b, err := CloseBatch(f.st, f.sup)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.EnrollmentIDs) != 2 {
		t.Fatalf("batch members: %v", b.EnrollmentIDs)
	}
	if _, err := CloseBatch(f.st, f.sup); !errors.Is(err, ErrNothingToBatch) {
		t.Fatalf("second close: %v", err)
	}
	x, err := NewExporter(f.st, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	// A cancelled export leaves the bundle queued and nothing at the target.
	usb := t.TempDir()
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := x.Export(cctx, f.sup, b.ID, &exporter.DirTarget{Dir: usb}, nil); err == nil {
		t.Fatal("cancelled export succeeded")
	}
	if got, _ := Batch(f.st, b.ID); StateOf(got) == ExportConfirmed {
		t.Fatalf("cancelled export marked confirmed: %+v", got)
	}
	var stages []string
	loc, err := x.Export(ctx, f.sup, b.ID, &exporter.DirTarget{Dir: usb}, func(p Progress) {
		if len(stages) == 0 || stages[len(stages)-1] != p.Stage {
			stages = append(stages, p.Stage)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(loc, usb) || strings.Join(stages, ",") != "building,delivering,recording" {
		t.Fatalf("export location %q stages %v", loc, stages)
	}
	hist, err := Batches(f.st)
	if err != nil || len(hist) != 1 || hist[0].State != ExportConfirmed || hist[0].BundleSeq == 0 {
		t.Fatalf("history: %+v %v", hist, err)
	}
	for _, id := range b.EnrollmentIDs {
		e, _ := f.st.Enrollment(id)
		if e.Status != vault.StatusExported || e.BatchID != b.ID {
			t.Fatalf("enrollment %s after export: %s batch %q", id, e.Status, e.BatchID)
		}
	}
	bundle := openBundle(t, loc, f, 0)
	if len(bundle.Records) != 2 || bundle.Batch.ID != b.ID || bundle.Seq != hist[0].BundleSeq {
		t.Fatalf("opened bundle: %d records, batch %q, seq %d", len(bundle.Records), bundle.Batch.ID, bundle.Seq)
	}
	for _, r := range bundle.Records {
		e, _ := f.st.Enrollment(r.EnrollmentID)
		if !bytes.Equal(r.Portrait, e.Portrait) || !bytes.Equal(r.Template, e.Template) || r.Identity.FamilyName != e.Demographics.Surname || len(r.Quality) == 0 {
			t.Fatalf("record %s differs from the store", r.EnrollmentID)
		}
		if r.Capture.CameraProfile != profile {
			t.Fatalf("record %s camera profile %q, want %q", r.EnrollmentID, r.Capture.CameraProfile, profile)
		}
		if r.EnrollmentID == e3.ID && r.Capture.ForcedReason == "" {
			t.Fatal("the group photo's forced reason was not carried")
		}
	}

	// The next bundle chains to the first with the next sequence number.
	e4 := f.enroll(t, f.clerk, "chaeyoung.jpg", "CHAE")
	if _, err := f.st.Approve(f.sup, e4.ID); err != nil {
		t.Fatal(err)
	}
	b2, err := CloseBatch(f.st, f.sup)
	if err != nil {
		t.Fatal(err)
	}
	loc2, err := x.Export(ctx, f.sup, b2.ID, &exporter.DirTarget{Dir: usb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	second := openBundle(t, loc2, f, bundle.Seq)
	if !bytes.Equal(second.PrevHash, bundle.SHA256[:]) {
		t.Fatal("second bundle does not chain to the first")
	}

	// A third batch goes to the issuer's upload receiver over HTTPS with mutual TLS.
	e5 := f.enroll(t, f.clerk, "luda.jpg", "LUDA")
	if _, err := f.st.Approve(f.sup, e5.ID); err != nil {
		t.Fatal(err)
	}
	b3, err := CloseBatch(f.st, f.sup)
	if err != nil {
		t.Fatal(err)
	}
	recvDir := t.TempDir()
	rc := exporter.NewReceiver(recvDir, f.st.PublicKey())
	srv := httptest.NewUnstartedServer(rc)
	srv.TLS = rc.TLSConfig()
	srv.StartTLS()
	defer srv.Close()
	target, err := exporter.ParseTarget(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	// The receiver's test certificate; the station's client certificate is its TPM key.
	target.(*exporter.HTTPTarget).RootCAs = x509.NewCertPool()
	target.(*exporter.HTTPTarget).RootCAs.AddCert(srv.Certificate())
	url, err := x.Export(ctx, f.sup, b3.ID, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, srv.URL) {
		t.Fatalf("upload location %q", url)
	}
	got, _ := Batch(f.st, b3.ID)
	third := openBundle(t, filepath.Join(recvDir, got.BundleID+exporter.FileExt), f, second.Seq)
	if !bytes.Equal(third.PrevHash, second.SHA256[:]) {
		t.Fatal("uploaded bundle does not chain to the second")
	}

	// The issuer's acknowledgement purges the biometrics of the records it accepted; the
	// one it refused keeps them and carries its reason.
	ack, err := exporter.MakeAck(f.issuer, bundle, map[string]string{e3.ID: "photo unusable"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := exporter.GenerateIssuerKey()
	forged, _ := exporter.MakeAck(other, bundle, nil, time.Now())
	if _, err := x.ImportAck(f.sup, forged); err == nil {
		t.Fatal("ack signed by another issuer accepted")
	}
	// An acknowledgement must account for every record of the bundle, exactly once.
	partial := *bundle
	partial.Records = bundle.Records[:1]
	extra := *bundle
	extra.Records = append(slices.Clone(bundle.Records), exporter.Record{EnrollmentID: "E-NOT-IN-BUNDLE"})
	for name, tc := range map[string]struct {
		b    *exporter.Bundle
		want string
	}{"partial": {&partial, exporter.CodeAckIncomplete}, "extra": {&extra, exporter.CodeAckExtra}} {
		bad, err := exporter.Acknowledge(f.issuer, tc.b, 1, nil, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := x.ImportAck(f.sup, bad); exporter.Reason(err) != tc.want {
			t.Fatalf("%s acknowledgement: %v, want %s", name, err, tc.want)
		}
	}
	ackRes, err := x.ImportAck(f.sup, ack)
	if err != nil || ackRes.BatchID != b.ID || ackRes.Purged != 1 || len(ackRes.Rejected) != 1 || ackRes.Rejected[0].EnrollmentID != e3.ID {
		t.Fatalf("import ack: %+v %v", ackRes, err)
	}
	// Neither the same acknowledgement again nor a later one for the same bundle (which
	// would merge into the first) is accepted.
	if _, err := x.ImportAck(f.sup, ack); exporter.Reason(err) != exporter.CodeAckReplay {
		t.Fatalf("importing the same ack again: %v", err)
	}
	again, _ := exporter.MakeAck(f.issuer, bundle, nil, time.Now().Add(time.Minute))
	if _, err := x.ImportAck(f.sup, again); exporter.Reason(err) != exporter.CodeAckReplay {
		t.Fatalf("a second ack of the same bundle: %v", err)
	}
	if got, _ := Batch(f.st, b.ID); StateOf(got) != ExportAcknowledged {
		t.Fatalf("state after ack: %s", StateOf(got))
	}
	if e, _ := f.st.Enrollment(e1.ID); e.Status != vault.StatusPurged || e.Portrait != nil || e.IssuerAckAt.IsZero() {
		t.Fatalf("accepted after ack: %s, portrait %d bytes", e.Status, len(e.Portrait))
	}
	if fr, _ := f.st.EnrollmentFrame(e1.ID); fr != nil {
		t.Fatal("accepted record's frame not purged")
	}
	if e, _ := f.st.Enrollment(e3.ID); e.Status != vault.StatusExported || e.Portrait == nil || e.Template == nil || e.IssuerRefusal != "photo unusable" || !e.IssuerAckAt.IsZero() {
		t.Fatalf("refused after ack: %s, portrait %d bytes, refusal %q", e.Status, len(e.Portrait), e.IssuerRefusal)
	}
	if got, _ := Batch(f.st, b.ID); got.AckAccepted != 1 || got.AckRefused != 1 {
		t.Fatalf("batch ack counts: %d accepted, %d refused", got.AckAccepted, got.AckRefused)
	}

	// A negative acknowledgement refuses the second bundle as a whole: its record goes
	// back to approved and the batch is exported again in a new bundle, chained after the
	// newest one.
	nack, err := exporter.Refuse(f.issuer, exporter.BundleRef{ID: second.ID, SHA256: second.SHA256, Seq: second.Seq, StationID: second.StationID},
		uint64(time.Now().Add(2*time.Minute).UnixMicro()), "policy", "batch held back by the issuer", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	nres, err := x.ImportAck(f.sup, nack)
	if err != nil || !nres.Refused || nres.Returned != 1 || nres.BatchID != b2.ID {
		t.Fatalf("import nack: %+v %v", nres, err)
	}
	if e, _ := f.st.Enrollment(e4.ID); e.Status != vault.StatusApproved || e.Portrait == nil {
		t.Fatalf("record of the refused bundle: %s", e.Status)
	}
	if _, err := x.ImportAck(f.sup, nack); err == nil {
		t.Fatal("the negative acknowledgement was imported twice")
	}
	loc4, err := x.Export(ctx, f.sup, b2.ID, &exporter.DirTarget{Dir: usb}, nil)
	if err != nil {
		t.Fatalf("export after the issuer refused the bundle: %v", err)
	}
	fourth := openBundle(t, loc4, f, third.Seq)
	if !bytes.Equal(fourth.PrevHash, third.SHA256[:]) || len(fourth.Records) != 1 || fourth.Records[0].EnrollmentID != e4.ID {
		t.Fatalf("re-exported bundle: prev %x, %d records", fourth.PrevHash, len(fourth.Records))
	}
	if rep, err := f.st.VerifyAudit(); err != nil || !rep.OK() {
		t.Fatalf("audit after export: %+v %v", rep, err)
	}
}

func openBundle(t *testing.T, path string, f *supFixture, afterSeq uint64) *exporter.Bundle {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	b, err := exporter.Open(fh, f.issuer, f.st.PublicKey(), exporter.OpenOptions{AfterSeq: afterSeq})
	if err != nil {
		t.Fatalf("issuer verify of %s: %v", path, err)
	}
	return b
}

func TestSettingsAndCameraProfile(t *testing.T) {
	f := newSupFixture(t)
	ok := SettingsChange{RetentionDays: 14, LockoutThreshold: 3, IdleLockMinutes: 5, Language: "zh"}
	for _, bad := range []SettingsChange{
		{RetentionDays: 0, LockoutThreshold: 3, IdleLockMinutes: 5, Language: "en"},
		{RetentionDays: 14, LockoutThreshold: 3, IdleLockMinutes: 0, Language: "en"},
		{RetentionDays: 14, LockoutThreshold: 3, IdleLockMinutes: 5, Language: "fr"},
		{RetentionDays: 14, LockoutThreshold: 3, IdleLockMinutes: 5, Language: "en", Quality: []byte("{")},
	} {
		if err := UpdateSettings(f.st, f.admin, bad); !errors.Is(err, vault.ErrInvalid) {
			t.Errorf("settings %+v: %v, want ErrInvalid", bad, err)
		}
	}
	if err := UpdateSettings(f.st, f.sup, ok); !errors.Is(err, vault.ErrForbidden) {
		t.Fatalf("settings by a supervisor: %v", err)
	}
	if err := UpdateSettings(f.st, f.admin, SettingsChange{RetentionDays: 14, LockoutThreshold: 3, IdleLockMinutes: 5, Language: "en", Quality: []byte(`{"MinInterEy": 90}`)}); !errors.Is(err, vault.ErrInvalid) {
		t.Fatalf("misspelt threshold: %v", err)
	}
	ok.Quality = []byte(`{"MinInterEye": 120}`)
	if err := UpdateSettings(f.st, f.admin, ok); err != nil {
		t.Fatal(err)
	}
	s, _ := Settings(f.st)
	if s.RetentionDays != 14 || s.IdleLockMinutes != 5 || s.Language != "zh" || s.StationName != "Counter 1" {
		t.Fatalf("settings: %+v", s)
	}
	th, err := QualityThresholds(f.st, biometrics.DefaultThresholds())
	if err != nil || th.MinInterEye != 120 || th.MaxYaw != biometrics.DefaultThresholds().MaxYaw {
		t.Fatalf("thresholds with overrides: %+v %v", th, err)
	}
	fp, err := SetIssuerKey(f.st, f.admin, f.issuerPub)
	if err != nil || fp != f.issuer.Public().Fingerprint() {
		t.Fatalf("issuer key fingerprint %q, %v", fp, err)
	}
	if _, err := SetIssuerKey(f.st, f.sup, f.issuerPub); !errors.Is(err, vault.ErrForbidden) {
		t.Fatalf("issuer key by a supervisor: %v", err)
	}
	if _, _, err := ActiveCameraProfile(f.st); !errors.Is(err, ErrNoProfile) {
		t.Fatalf("profile before saving: %v", err)
	}
}

// An export whose bundle does not fit on the station's disk fails with the disk's error,
// leaves no partial bundle in the outbox and no batch marked, and succeeds once there is
// room: a full disk costs a sequence number (a gap the issuer accepts), never data.
func TestExportOnFullDisk(t *testing.T) {
	disk := testenv.SmallDisk(t, 400)
	// Small reserves, so that the disk can be too full for the bundle while the store's
	// own small writes (the audit checkpoint) still have room.
	f := newSupFixtureAt(t, filepath.Join(disk, "data"), vault.StoreOptions{MinFree: 1 << 20, RecordFree: 2 << 20})
	var ids []string
	for _, p := range []string{"bona.jpg", "pristin.jpg", "chaeyoung.jpg"} {
		ids = append(ids, f.enroll(t, f.clerk, p, "FULL").ID)
	}
	for _, id := range ids {
		if _, err := f.st.Approve(f.sup, id); err != nil {
			t.Fatal(err)
		}
	}
	b, err := CloseBatch(f.st, f.sup)
	if err != nil {
		t.Fatal(err)
	}
	x, err := NewExporter(f.st, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	usb := t.TempDir()
	ballast := testenv.FillDisk(t, disk, 1536<<10)
	if _, err := x.Export(context.Background(), f.sup, b.ID, &exporter.DirTarget{Dir: usb}, nil); !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("export on a full disk: %v", err)
	}
	if ents, _ := os.ReadDir(x.outbox.Dir()); len(ents) != 0 {
		t.Fatalf("left in the outbox: %v", ents)
	}
	if got, _ := Batch(f.st, b.ID); got.BundleID != "" || got.Status == vault.BatchExported {
		t.Fatalf("batch after the failed export: %+v", got)
	}
	os.Remove(ballast)
	loc, err := x.Export(context.Background(), f.sup, b.ID, &exporter.DirTarget{Dir: usb}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bundle := openBundle(t, loc, f, 0); len(bundle.Records) != len(ids) {
		t.Fatalf("bundle after freeing space: %d records", len(bundle.Records))
	}
	for _, id := range ids {
		if e, err := f.st.Enrollment(id); err != nil || e.Status != vault.StatusExported || len(e.Portrait) == 0 {
			t.Fatalf("%s after the export: %v", id, err)
		}
	}
}
