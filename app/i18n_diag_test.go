package app

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"enrollstation/enroll"
	"enrollstation/internal/blas"
	"enrollstation/selftest"
	"enrollstation/vault"
)

// selectTabText shows the home tab titled title (in the screens' language).
func selectTabText(t *testing.T, sh *shell, title string) {
	t.Helper()
	for _, it := range sh.homeTabs.Items {
		if it.Text == title {
			sh.homeTabs.Select(it)
			return
		}
	}
	t.Fatalf("no tab %q", title)
}

// The technician's Diagnostics tab after "Run checks", in Chinese, with passing checks
// (models, face engine, OpenCV, software TPM, data folder, store), a warning (OpenBLAS on
// two threads) and a failure (the configured camera is missing): every detail and hint
// is worded in Chinese, with only data (paths, versions, numbers) left as it is.
func TestNoUntranslatedTextOnDiagnostics(t *testing.T) {
	s := newSupStation(t)
	if err := enroll.SetOperatorLanguage(s.st, s.login("tom"), "zh"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { setLanguage("en") })
	tom := s.shellFor("tom", filepath.Join(t.TempDir(), "missing.mp4"))
	var td *techDiagnostics
	tom.notify = func(ev string, x any) {
		if d, ok := x.(*techDiagnostics); ok {
			td = d
		}
	}
	tom.home()
	tom.notify = nil
	if td == nil {
		t.Fatal("no diagnostics tab on the technician's home")
	}
	if !blas.SetThreads(2) {
		t.Fatal("OpenBLAS thread setter not found")
	}
	t.Cleanup(func() { blas.SetThreads(1) })
	done := make(chan []selftest.Result, 1)
	td.diag.onDone = func(rs []selftest.Result) { done <- rs }
	selectTabText(t, tom, tr("Diagnostics"))
	td.diag.rerun.OnTapped()
	rs := <-done

	var passed, warned, failed int
	for _, r := range rs {
		switch {
		case !r.OK:
			failed++
		case r.Warning:
			warned++
		default:
			passed++
		}
	}
	if passed < 5 || warned != 1 || failed != 1 {
		t.Fatalf("want passing checks, one warning (BLAS) and one failure (camera): %+v", rs)
	}
	if bad := untranslated(screenTexts(tom)); len(bad) > 0 {
		t.Errorf("Diagnostics after Run checks: English on a Chinese screen: %q", bad)
	}
	shoot(t, tom, "diagnostics-zh")

	// Models missing: the models and face engine checks fail too.
	tom.cfg.Models = t.TempDir()
	td.diag.rerun.OnTapped()
	rs = <-done
	if rs[0].OK || rs[1].OK {
		t.Fatalf("models and face engine pass without models: %+v", rs[:2])
	}
	if bad := untranslated(screenTexts(tom)); len(bad) > 0 {
		t.Errorf("Diagnostics without models: English on a Chinese screen: %q", bad)
	}
}

// The supervisor's audit log after Verify on a tampered log (an entry deleted from the
// store, as an insider with the store key could), in Chinese: the problems are worded
// from their kind and data.
func TestNoUntranslatedTextOnAuditVerify(t *testing.T) {
	s := newSupStation(t)
	if err := enroll.SetOperatorLanguage(s.st, s.login("sam"), "zh"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { setLanguage("en") })
	sam := s.shellFor("sam", "")
	var audit *auditScreen
	sam.notify = func(ev string, x any) {
		if a, ok := x.(*auditScreen); ok {
			audit = a
		}
	}
	sam.home()
	sam.notify = nil
	if audit == nil {
		t.Fatal("no audit log on the supervisor's home")
	}

	rep, err := tamperedAuditReport(t)
	kinds := map[vault.AuditProblemKind]bool{}
	for _, p := range rep.Problems {
		kinds[p.Kind] = true
	}
	if err == nil || !kinds[vault.AuditEntriesMissing] || !kinds[vault.AuditChainBroken] {
		t.Fatalf("tampered log: %+v, %v", rep, err)
	}
	selectTabText(t, sam, tr("Audit log"))
	audit.showVerdict(rep, err)
	shoot(t, sam, "audit-verify-tampered-zh")
	if bad := untranslated(screenTexts(sam)); len(bad) > 0 {
		t.Errorf("audit Verify with problems: English on a Chinese screen: %q", bad)
	}
}

// tamperedAuditReport verifies a store whose audit log lost its second entry.
func tamperedAuditReport(t *testing.T) (*vault.AuditReport, error) {
	t.Helper()
	dir := t.TempDir()
	key := make([]byte, 32)
	rand.Read(key)
	st, err := vault.CreateStore(dir, key, vault.StoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"user.login", "enrollment.save", "enrollment.approve", "user.logout"} {
		if err := st.Update(func(tx *vault.Tx) error { return tx.Audit("sam", a, "obj", "") }); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := badger.Open(badger.DefaultOptions(dir).WithEncryptionKey(key).WithIndexCacheSize(16 << 20).WithLogger(nil))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(txn *badger.Txn) error { return txn.Delete(fmt.Appendf(nil, "a/%020d", 2)) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	st, err = vault.OpenStore(dir, key)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	pub, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return st.VerifyAudit(&pub.PublicKey)
}

// Every kind of audit problem is worded on a Chinese screen (not vault's English).
func TestAuditProblemKindsTranslated(t *testing.T) {
	setLanguage("zh")
	t.Cleanup(func() { setLanguage("en") })
	for _, p := range []vault.AuditProblem{
		{Seq: 1, Kind: vault.AuditEntryUnreadable, Key: "a/00000000000000000001", Err: "零", Problem: "entry unreadable"},
		{Seq: 2, Kind: vault.AuditEntryMoved, Key: "a/00000000000000000003", Problem: "moved"},
		{Seq: 2, Kind: vault.AuditEntriesMissing, From: 2, To: 4, Problem: "missing"},
		{Seq: 3, Kind: vault.AuditChainBroken, Problem: "chain"},
		{Seq: 3, Kind: vault.AuditEntryEdited, Problem: "edited"},
		{Seq: 6, Kind: vault.AuditHeadMismatch, From: 5, To: 6, Problem: "head"},
		{Kind: vault.AuditCheckpointUnreadable, Key: "c/00000000000000000004", Err: "零", Problem: "checkpoint unreadable"},
		{Seq: 4, Kind: vault.AuditCheckpointForged, Problem: "signature"},
		{Seq: 4, Kind: vault.AuditCheckpointMismatch, Problem: "rewritten"},
		{Seq: 9, Kind: vault.AuditAnchorsMissing, From: 2, To: 3, Problem: "anchors"},
		{Seq: 9, Kind: vault.AuditAnchorRollback, Err: "vault: rollback", Problem: "TPM anchor"},
	} {
		got := auditProblemText(p)
		if bad := untranslated([]string{got}); len(bad) > 0 || got == p.Problem {
			t.Errorf("%s: %q on a Chinese screen", p.Kind, got)
		}
	}
}
