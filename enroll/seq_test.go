package enroll

import (
	"context"
	"errors"
	"testing"

	"enrollstation/exporter"
)

// Bundle sequence numbers go only to bundles that were built: a cancelled build uses
// none, and a stop between recording a bundle and counting it in the TPM (a crash) is
// completed by the next export, of that batch or another, without two bundles sharing
// a number.
func TestSequenceNumbersOnlyForBuiltBundles(t *testing.T) {
	f := newSupFixture(t)
	ctx := context.Background()
	closeOne := func(photo, family string) string {
		t.Helper()
		e := f.enroll(t, f.clerk, photo, family)
		if _, err := f.st.Approve(f.sup, e.ID); err != nil {
			t.Fatal(err)
		}
		b, err := CloseBatch(f.st, f.sup)
		if err != nil {
			t.Fatal(err)
		}
		return b.ID
	}
	counter := func() uint64 {
		t.Helper()
		n, err := f.st.BundleSeq()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	x, err := NewExporter(f.st, f.dir)
	if err != nil {
		t.Fatal(err)
	}
	usb := &exporter.DirTarget{Dir: t.TempDir()}
	a := closeOne("bona.jpg", "ALPHA")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := x.Export(cctx, f.sup, a, usb, nil); err == nil {
		t.Fatal("cancelled export succeeded")
	}
	if n := counter(); n != 0 {
		t.Fatalf("a cancelled build used sequence number %d", n)
	}

	crash := errors.New("killed")
	testHookBundleRecorded = func() error { return crash }
	if _, err := x.Export(ctx, f.sup, a, usb, nil); !errors.Is(err, crash) {
		t.Fatalf("export stopped after recording: %v", err)
	}
	testHookBundleRecorded = nil
	if ba, _ := Batch(f.st, a); ba.BundleSeq != 1 || counter() != 0 {
		t.Fatalf("after the stop: batch records %d, counter %d", ba.BundleSeq, counter())
	}

	// Another batch first: its build counts the interrupted one and takes the next number.
	b := closeOne("luda.jpg", "BRAVO")
	if _, err := x.Export(ctx, f.sup, b, usb, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := x.Export(ctx, f.sup, a, usb, nil); err != nil {
		t.Fatal(err)
	}
	ba, _ := Batch(f.st, a)
	bb, _ := Batch(f.st, b)
	if ba.BundleSeq != 1 || bb.BundleSeq != 2 || counter() != 2 {
		t.Fatalf("bundles %d and %d, counter %d; want 1, 2, 2", ba.BundleSeq, bb.BundleSeq, counter())
	}
}
