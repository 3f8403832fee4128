package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"enrollstation/biometrics"
	"enrollstation/enroll"
	"enrollstation/internal/cupstest"
	"enrollstation/internal/testenv"
	"enrollstation/internal/videotest"
	"enrollstation/vault"
)

// receipt print reprints an enrollment's receipt through a real CUPS server to the
// cups-pdf printer: the PDF that arrives carries the application number and the portrait
// (a face is found on the printed page), and the print is in the audit log.
func TestReceiptPrint(t *testing.T) {
	srv := cupstest.Start(t)
	models := testenv.ModelsDir(t)
	run, data := clerkStation(t, models)
	rec, err := biometrics.NewRecognizer(models)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	good := videotest.Still(t, rec, t.TempDir(), testenv.Face(t, "sejeong.jpg"))
	details := filepath.Join(testenv.Root(), "docs", "examples", "enrollment.json")
	out, e, code := run("clara-password\n", "enroll", "--details", details, "--photo", good, "--as", "clara", "--json")
	if code != 0 {
		t.Fatalf("enroll: %s", e)
	}
	var res enrollResult
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatal(err)
	}

	if _, e, code := run("clara-password\n", "receipt", "print", "000000-000000-0", "--as", "clara", "--printer", srv.Printer); code != 1 || !strings.Contains(e, "application number") {
		t.Errorf("bad number: exit %d: %s", code, e)
	}
	out, e, code = run("clara-password\n", "receipt", "print", res.ApplicationNumber, "--printer", srv.Printer, "--as", "clara")
	if code != 0 || !strings.Contains(out, "as job "+srv.Printer+"-") {
		t.Fatalf("receipt print: exit %d: %s%s", code, out, e)
	}
	pdfs := srv.WaitPDF(t, 1, time.Minute)
	if got := cupstest.PageQR(t, pdfs[0]); got != res.ApplicationNumber {
		t.Errorf("printed receipt's QR code reads %q, want %s", got, res.ApplicationNumber)
	}
	if faces, err := rec.Recognize(cupstest.PageJPEG(t, pdfs[0])); err != nil || len(faces) != 1 {
		t.Errorf("printed receipt: %d faces (%v), want the portrait", len(faces), err)
	}
	err = withStation(testEnv(enroll.Config{Data: data, TPM: "swtpm"}), func(st *vault.Station) error {
		return st.Store().View(func(tx *vault.Tx) error {
			entries, err := tx.AuditEntries(1, 0)
			if err != nil {
				return err
			}
			for _, a := range entries {
				if a.Action == "receipt.print" && a.Actor == "clara" && a.Object == res.ID && strings.Contains(a.Detail, res.ApplicationNumber) {
					return nil
				}
			}
			t.Errorf("no receipt.print audit entry among %d", len(entries))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
}
