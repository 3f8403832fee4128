package app

import (
	"context"
	"crypto/rand"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm/tpm2"

	"enrollstation/capture"
	"enrollstation/enroll"
	"enrollstation/exporter"
	"enrollstation/exporter/attestation"
	"enrollstation/internal/cupstest"
	"enrollstation/internal/swtpm"
	"enrollstation/internal/tpmtest"
	"enrollstation/vault"
)

// auditActionRE finds the action codes the workflow writes (tx.Audit and the helpers
// that pass an action on) in a line of vault's or enroll's sources.
var auditActionRE = regexp.MustCompile(`"((?:station|user|operator|camera|enrollment|receipt|batch)\.[a-z-]+)"`)

// writtenAuditActions are the audit actions vault and enroll write, read from their
// sources, so an action added later without a name or detail wording fails the test.
func writtenAuditActions(t *testing.T) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, dir := range []string{"../vault", "../enroll"} {
		files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(string(b), "\n") {
				if !strings.Contains(line, "Audit(") && !strings.Contains(line, "action") &&
					!strings.Contains(line, "updateOperator(") && !strings.Contains(line, "auditRecovery(") {
					continue
				}
				for _, m := range auditActionRE.FindAllStringSubmatch(line, -1) {
					seen[m[1]] = true
				}
			}
		}
	}
	if len(seen) < 25 {
		t.Fatalf("found only %d audit actions in vault and enroll: is the scan still reading them?", len(seen))
	}
	return sortedKeys(seen)
}

// The audit log on a Chinese screen: one real entry of every action the workflow writes
// (made through vault and enroll as the screens and commands do), each with its action
// named and its detail worded in Chinese from the detail's fields; the stored entries
// keep their English details (they are hashed and anchored) and the chain still verifies.
func TestAuditDetailsOnChineseScreens(t *testing.T) {
	s := newSupStationOn(t, tpmtest.StartWithEK(t, swtpm.DefaultCADir))
	st := s.st
	root, sam := s.login("root"), s.login("sam")
	tom := s.login("tom")

	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	// Station and operators.
	must("settings", enroll.UpdateSettings(st, root, enroll.SettingsChange{RetentionDays: 30, LockoutThreshold: 3, IdleLockMinutes: 5, Language: "en"}))
	sharp := 40.0
	must("quality", enroll.SetQuality(st, root, map[string]*float64{"MinSharpness": &sharp, "MaxYaw": nil}))
	must("profile", enroll.SaveCameraProfile(st, tom, capture.CameraProfile{Name: "Counter 1", Source: "synthetic"}))
	must("language", enroll.SetOperatorLanguage(st, root, "zh"))
	must("language", enroll.SetOperatorLanguage(st, sam, "zh"))
	must("roles", st.SetRoles(root, "tom", []vault.Role{vault.RoleTechnician, vault.RoleSupervisor}))
	tom = s.login("tom")     // a supervisor now: a new approval key
	for i := 0; i < 3; i++ { // three failures: locked for a minute
		st.Login("sue", "wrong-password")
	}
	must("unlock", st.SetLocked(root, "sue", false))
	must("lock", st.SetLocked(root, "sue", true))
	st.Login("sue", "sue-password") // refused: locked by an administrator
	must("unlock", st.SetLocked(root, "sue", false))
	must("passwd", st.ChangePassword("clara", "clara-password", "clara-password-2"))
	s.pw = map[string]string{"clara": "clara-password-2"}
	otp, err := st.ResetPassword(root, "sue")
	must("reset", err)
	must("passwd", st.ChangePassword("sue", otp, "sue-password"))
	s.login("sue") // a new approval key
	code, err := st.NewRecoveryCode(root)
	must("recovery code", err)
	st.RecoverAdmin("root", "WRONG-CODE", "root-password")
	must("recover", st.RecoverAdmin("root", code, "root-password"))
	st.RecoverAdmin("root", code, "root-password") // used already
	root = s.login("root")
	// The issuer key changed with a second person.
	other, _ := exporter.GenerateIssuerKey()
	otherPub, _ := other.Public().MarshalText()
	_, err = enroll.SetIssuerKey(st, root, sam, otherPub)
	must("issuer key", err)
	issuerPub, _ := s.issuer.Public().MarshalText()
	_, err = enroll.SetIssuerKey(st, root, sam, issuerPub)
	must("issuer key back", err)
	// Attestation: the station's keys certified, a credential activated.
	ev, err := st.Attest(root, attestation.QualifyingData)
	must("attest", err)
	ek, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.EKPublic)
	must("EK", err)
	akPub, err := tpm2.Unmarshal[tpm2.TPMTPublic](ev.AKPublic)
	must("AK", err)
	akName, _ := tpm2.ObjectName(akPub)
	encKey, err := tpm2.ImportEncapsulationKey(ek)
	must("EK key", err)
	blob, enc, err := tpm2.CreateCredential(rand.Reader, encKey, akName.Buffer, []byte("0123456789abcdef"))
	must("credential", err)
	_, err = st.Activate(root, akName.Buffer, blob, enc)
	must("activate", err)

	// Enrollments: saved, approved, rejected, printed, batched, exported (once failing),
	// acknowledged (one refused, one accepted and purged), refused as a bundle.
	ids := []string{s.enroll("clara", "bona.jpg", "BONA"), s.enroll("clara", "luda.jpg", "LUDA"), s.enroll("clara", "nana.jpg", "NANA"), s.enroll("clara", "bona3.jpg", "BONA")}
	must("reject", enroll.Reject(st, sam, ids[3], "poor-photo"))
	printed := false
	t.Run("receipt", func(t *testing.T) { // skipped where cupsd cannot run
		srv := cupstest.Start(t)
		if err := enroll.SetReceiptPrinter(st, tom, srv.Printer); err != nil {
			t.Fatal(err)
		}
		e, err := st.Enrollment(ids[0])
		if err != nil {
			t.Fatal(err)
		}
		pdf, err := enroll.ReceiptPDF(st, e, receiptText())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := enroll.PrintReceipt(context.Background(), st, s.login("clara"), e, pdf, ""); err != nil {
			t.Fatal(err)
		}
		printed = true
	})
	for _, id := range ids[:3] {
		_, err := st.Approve(sam, id)
		must("approve", err)
	}
	x, err := enroll.NewExporter(st, s.dir)
	must("exporter", err)
	// The first batch fails once (a file where the folder should be), then goes out.
	fail, err := enroll.CloseBatch(st, sam)
	must("close", err)
	// A short path, as a USB medium's is (the stored detail is cut at 200 bytes).
	short, err := os.MkdirTemp("", "es")
	must("temp", err)
	t.Cleanup(func() { os.RemoveAll(short) })
	notDir := filepath.Join(short, "nd")
	os.WriteFile(notDir, []byte("x"), 0o600)
	bad, err := exporter.ParseTarget(notDir)
	must("target", err)
	if _, err := x.Export(context.Background(), sam, fail.ID, bad, nil); err == nil {
		t.Fatal("export to a file succeeded")
	} else {
		t.Logf("export error: %v", err)
	}
	usb := t.TempDir()
	good, _ := exporter.ParseTarget(usb)
	loc, err := x.Export(context.Background(), sam, fail.ID, good, nil)
	must("export", err)
	openBundle := func(path string) *exporter.Bundle {
		t.Helper()
		f, err := os.Open(path)
		must("bundle", err)
		defer f.Close()
		b, err := exporter.Open(f, s.issuer, st.PublicKey(), exporter.OpenOptions{})
		must("open bundle", err)
		return b
	}
	first := openBundle(loc)
	ack, err := exporter.MakeAck(s.issuer, first, map[string]string{ids[1]: "portrait-quality"}, time.Now())
	must("ack", err)
	_, err = x.ImportAck(sam, ack)
	must("import ack", err)
	// The refused record is enrolled again (its biometrics kept); the issuer refuses the
	// next bundle as a whole.
	again := s.enroll("clara", "luda2.jpg", "LUDA")
	_, err = st.Approve(sam, again)
	must("approve", err)
	b2, err := enroll.CloseBatch(st, sam)
	must("close", err)
	loc, err = x.Export(context.Background(), sam, b2.ID, good, nil)
	must("export", err)
	second := openBundle(loc)
	nack, err := exporter.Refuse(s.issuer, exporter.BundleRef{ID: second.ID, SHA256: second.SHA256, Seq: second.Seq, StationID: second.StationID},
		uint64(time.Now().UnixMicro()), "policy", "", time.Now())
	must("nack", err)
	_, err = x.ImportAck(sam, nack)
	must("import nack", err)
	// A batch naming a record that is gone: the supervisor takes it out.
	gone := vault.NewID(time.Now())
	damaged := &vault.Batch{ID: "B" + vault.NewID(time.Now()), Status: vault.BatchClosed, CreatedBy: "sam", CreatedAt: time.Now(), ClosedAt: time.Now(), EnrollmentIDs: []string{gone}}
	must("batch", st.Store().Update(func(tx *vault.Tx) error { return tx.PutBatch(damaged) }))
	must("quarantine", enroll.Quarantine(st, sam, damaged.ID, gone, ""))

	log, err := enroll.AuditLog(st)
	must("audit log", err)
	have := map[string]bool{}
	for _, e := range log {
		have[e.Action] = true
	}
	for _, a := range writtenAuditActions(t) {
		if !have[a] && (printed || a != "receipt.print" && a != "station.printer") {
			t.Errorf("the test made no %s entry", a)
		}
	}

	setLanguage("zh")
	t.Cleanup(func() { setLanguage("en") })
	for _, e := range log {
		if auditActionLabel(e.Action) == e.Action {
			t.Errorf("#%d %s: no name for the action", e.Seq, e.Action)
		}
		if _, ok := renderAuditDetail(e.Action, e.Detail); e.Detail != "" && !ok {
			t.Errorf("#%d %s: detail %q is in no known form", e.Seq, e.Action, e.Detail)
		}
		if bad := untranslated([]string{auditDetail(e)}); len(bad) > 0 {
			t.Errorf("#%d %s: detail %q shown as %q", e.Seq, e.Action, e.Detail, bad)
		}
	}

	// The screen itself: every action picked in the filter, its rows on show.
	sh := s.shellFor("root", "")
	a := newAuditScreen(sh)
	sh.win.SetContent(a.content)
	if len(a.all) < len(log) || currentLanguage() != "zh" {
		t.Fatalf("the screen lists %d entries (the log had %d), in %s", len(a.all), len(log), currentLanguage())
	}
	opts := slices.Clone(a.action.Options)
	sort.Strings(opts)
	for _, label := range opts {
		if label == anyChoice {
			continue
		}
		a.action.SetSelected(label)
		if len(a.rows) == 0 {
			t.Errorf("action %q lists nothing", label)
		}
		if bad := untranslated(screenTexts(sh)); len(bad) > 0 {
			t.Errorf("audit log, action %q: English on a Chinese screen: %q", label, bad)
		}
	}
	// Searching still finds the stored English words and the shown Chinese ones.
	a.action.SetSelected(anyChoice)
	a.text.SetText("poor-photo")
	if len(a.rows) != 1 || a.rows[0].Action != "enrollment.reject" {
		t.Errorf("search for the stored reason code: %d rows", len(a.rows))
	}
	a.text.SetText(rejectReasonLabel("poor-photo"))
	if len(a.rows) != 1 || a.rows[0].Action != "enrollment.reject" {
		t.Errorf("search for the shown reason: %d rows", len(a.rows))
	}
	// The supervisor's dashboard names the rejection reasons in Chinese too (the chart's
	// own font has no Chinese: its bars are numbered, the legend is a label).
	samSh := s.shellFor("sam", "")
	d := newDashboard(samSh)
	samSh.win.SetContent(d.content)
	if d.reasonLegend == nil || !strings.Contains(d.reasonLegend.Text, rejectReasonLabel("poor-photo")) {
		t.Errorf("dashboard: no legend naming the rejection reason")
	}
	if bad := untranslated(screenTexts(samSh)); len(bad) > 0 {
		t.Errorf("dashboard: English on a Chinese screen: %q", bad)
	}
	// The stored entries are as written, and the chain verifies.
	if rep := a.verify(); rep == nil || !rep.OK() {
		t.Fatalf("chain after the test: %+v", rep)
	}
	for _, e := range a.all {
		if e.Action == "enrollment.reject" && e.Detail != "poor-photo" {
			t.Errorf("stored reject detail %q", e.Detail)
		}
	}
}
