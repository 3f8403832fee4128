package app

import (
	"testing"
	"time"

	"fyne.io/fyne/v2/test"

	"enrollstation/enroll"
	"enrollstation/internal/cupstest"
	"enrollstation/internal/videotest"
	"enrollstation/vault"
)

// toReceipt walks a logged-in clerk's home through a new enrollment to the receipt step.
func (h *harness) toReceipt(home *clerkHome) *receiptView {
	h.t.Helper()
	test.Tap(home.newBtn)
	d := wait[*detailsForm](h, "screen")
	fillValid(d)
	test.Tap(d.next)
	wait[*captureView](h, "screen")
	rv := wait[*reviewView](h, "screen")
	<-rv.ready
	test.Tap(rv.consent)
	test.Tap(rv.submit)
	return wait[*receiptView](h, "screen")
}

// The technician picks the cups-pdf queue of a real cupsd as the receipt printer; the
// clerk's receipt screen shows the rendered receipt and Print sends it there: the PDF
// that arrives carries the application number (its QR code) and the portrait (a face),
// and the print is audited.
func TestReceiptShownAndPrinted(t *testing.T) {
	needModels(t)
	srv := cupstest.Start(t)
	h := newHarness(t, video(t, videotest.Good, "sejeong.jpg"))
	f := wait[*loginForm](h, "screen")

	admin, err := h.sh.station.Login("root", "admin-password")
	if err != nil {
		t.Fatal(err)
	}
	h.sh.sess = admin
	p := newPrinterScreen(h.sh)
	<-p.loaded
	if !contains(p.pick.Options, srv.Printer) {
		t.Fatalf("printer choices %q lack %s", p.pick.Options, srv.Printer)
	}
	p.pick.SetSelected(srv.Printer)
	test.Tap(p.save)
	if q, err := enroll.ReceiptPrinter(h.sh.station); err != nil || q != srv.Printer {
		t.Fatalf("receipt printer %q, %v", q, err)
	}
	h.sh.sess = nil

	f.user.SetText("clerk")
	test.Type(f.pass, clerkPW)
	test.Tap(f.submit)
	home := wait[*clerkHome](h, "screen")
	v := h.toReceipt(home)
	if v.e.receiptPage == nil || v.print.Disabled() {
		t.Fatalf("receipt not shown (page %v) or not printable", v.e.receiptPage != nil)
	}
	if b := v.e.receiptPage.Bounds(); b.Dy() < b.Dx() {
		t.Errorf("rendered receipt %v is not a portrait page", b)
	}
	test.Tap(v.print)
	if err := <-v.printed; err != nil {
		t.Fatalf("print: %v (%s)", err, v.status.Text)
	}
	shoot(t, h.sh, "receipt-"+currentLanguage())
	pdfs := srv.WaitPDF(t, 1, time.Minute)
	if got := cupstest.PageQR(t, pdfs[0]); got != v.e.appNo {
		t.Errorf("printed QR code %q, want %s", got, v.e.appNo)
	}
	if faces, err := testRec.Recognize(cupstest.PageJPEG(t, pdfs[0])); err != nil || len(faces) != 1 {
		t.Errorf("printed receipt: %d faces (%v), want the portrait", len(faces), err)
	}
	var found bool
	err = h.sh.station.Store().View(func(tx *vault.Tx) error {
		all, err := tx.AuditEntries(1, 0)
		for _, a := range all {
			found = found || a.Action == "receipt.print" && a.Actor == "clerk" && a.Object == v.e.savedID
		}
		return err
	})
	if err != nil || !found {
		t.Errorf("no receipt.print audit entry (%v)", err)
	}
}
