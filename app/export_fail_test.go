package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enrollstation/enroll"
	"enrollstation/vault"
)

// A failed delivery leaves one consistent state: the batch not exported, its bundle
// queued (the screen says so once, with the bundle number), the progress bar back at
// zero and an audit entry; the next export to a good folder resends the same bundle.
func TestExportFailureIsConsistentAndAudited(t *testing.T) {
	s := newSupStation(t)
	id := s.enroll("clara", "bona.jpg", "BONA")
	if _, err := s.st.Approve(s.login("sam"), id); err != nil {
		t.Fatal(err)
	}
	sam := s.shellFor("sam", "")
	b := newBatchScreen(sam)
	sam.win.SetContent(b.content)
	if err := b.closeBatch(); err != nil {
		t.Fatal(err)
	}
	// A file where the USB folder should be: the delivery fails.
	notDir := filepath.Join(t.TempDir(), "not-a-folder")
	os.WriteFile(notDir, []byte("x"), 0o600)
	b.target.SetText(notDir)
	b.startExport()
	if err := <-b.done; err == nil {
		t.Fatal("export to a file succeeded")
	}
	bt := b.batches[b.selected]
	if b.progress.Value != 0 {
		t.Errorf("progress bar left at %.0f%%", 100*b.progress.Value)
	}
	if !strings.Contains(b.stage.Text, "Not delivered") || !strings.Contains(b.stage.Text, "queued") ||
		strings.Contains(b.stage.Text, "could not be made") || bt.BundleSeq == 0 {
		t.Errorf("stage %q for batch %+v", b.stage.Text, bt.Batch)
	}
	if bt.State != enroll.ExportSent || bt.Status == vault.BatchExported || stateText(bt.State) != "not delivered — export again" {
		t.Errorf("batch state %s (%s)", bt.State, bt.Status)
	}
	if e, _ := s.st.Enrollment(id); e.Status != vault.StatusApproved {
		t.Errorf("enrollment %s after a failed export", e.Status)
	}
	var audited bool
	s.st.Store().View(func(tx *vault.Tx) error {
		all, err := tx.AuditEntries(1, 0)
		for _, a := range all {
			audited = audited || a.Action == "batch.export-failed" && a.Object == bt.ID && a.Actor == "sam" && strings.Contains(a.Detail, notDir)
		}
		return err
	})
	if !audited {
		t.Error("no batch.export-failed audit entry")
	}

	usb := t.TempDir()
	b.target.SetText(usb)
	b.startExport()
	if err := <-b.done; err != nil {
		t.Fatal(err)
	}
	if got, _ := enroll.Batch(s.st, bt.ID); got.BundleSeq != bt.BundleSeq || got.Status != vault.BatchExported || b.progress.Value != 1 {
		t.Errorf("retry: bundle %d (was %d), %s, progress %.2f", got.BundleSeq, bt.BundleSeq, got.Status, b.progress.Value)
	}
}
