package enroll

import (
	"bytes"
	"context"
	"flag"
	"image"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"enrollstation/exporter"
	"enrollstation/internal/testenv"
	"enrollstation/vault"
)

var updateVectors = flag.Bool("update", false, "regenerate exporter/testdata/station (the real-station test vector)")

// TestExportVectors checks, and with -update writes, exporter/testdata/station: a bundle
// made by the real station path — a swtpm station, two enrollments of test photos with
// real templates, approved with the supervisor's TPM key (statement v2 built by the
// vault), the roster from the vault — encrypted to the fixed test-vector issuer key.
func TestExportVectors(t *testing.T) {
	dir := filepath.Join(testenv.Root(), "exporter", "testdata", "station")
	keyText, err := os.ReadFile(filepath.Join(testenv.Root(), "exporter", "testdata", "issuer.key"))
	if err != nil {
		t.Fatal(err)
	}
	issuer, err := exporter.ParseIssuerPrivateKey(keyText)
	if err != nil {
		t.Fatal(err)
	}
	if *updateVectors {
		f := newSupFixtureIssuer(t, t.TempDir(), vault.StoreOptions{}, issuer)
		for _, c := range []struct{ photo, family string }{{"bona.jpg", "BONA"}, {"luda.jpg", "LUDA"}} {
			// The test photos are not committed: the stored portrait is a 12×15 mosaic
			// of the photo (unrecognisable), the template the photo's own.
			e := f.enrollWith(t, f.clerk, c.photo, c.family, mosaic(t))
			if _, err := f.st.Approve(f.sup, e.ID); err != nil {
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
		loc, err := x.Export(context.Background(), f.sup, b.ID, &exporter.DirTarget{Dir: t.TempDir()}, nil)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(loc)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(dir, 0o755)
		for name, b := range map[string][]byte{"bundle.esb": data, "station.pub": f.st.PublicKeyPEM()} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (run go test ./enroll -run TestExportVectors -update)", err)
		}
		return b
	}
	st, err := exporter.ParseStationPublicKey(read("station.pub"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := exporter.Open(bytes.NewReader(read("bundle.esb")), issuer, st, exporter.OpenOptions{})
	if err != nil {
		t.Fatalf("the station vector does not verify: %v", err)
	}
	var report bytes.Buffer
	if err := exporter.WriteReport(&report, b); err != nil {
		t.Fatal(err)
	}
	if *updateVectors {
		if err := os.WriteFile(filepath.Join(dir, "bundle.verify.golden"), report.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(report.Bytes(), read("bundle.verify.golden")) {
		t.Errorf("report differs from bundle.verify.golden:\n%s", report.Bytes())
	}
	for _, r := range b.Records {
		if len(r.Template) != 555 || r.Identity.ApplicationNumber == "" || len(r.Approval.Statement) == 0 {
			t.Errorf("record %s: template %d bytes, application %q, statement %d bytes", r.EnrollmentID, len(r.Template), r.Identity.ApplicationNumber, len(r.Approval.Statement))
		}
	}
	if b.Version != 2 || len(b.Roster) == 0 {
		t.Errorf("format %d, roster of %d keys", b.Version, len(b.Roster))
	}
}

// mosaic returns a function turning an image into a 96×120 JPEG of 12×15 blocks.
func mosaic(t *testing.T) func(gocv.Mat) []byte {
	return func(m gocv.Mat) []byte {
		small, big := gocv.NewMat(), gocv.NewMat()
		defer small.Close()
		defer big.Close()
		gocv.Resize(m, &small, image.Pt(12, 15), 0, 0, gocv.InterpolationArea)
		gocv.Resize(small, &big, image.Pt(96, 120), 0, 0, gocv.InterpolationNearestNeighbor)
		buf, err := gocv.IMEncode(gocv.JPEGFileExt, big)
		if err != nil {
			t.Fatal(err)
		}
		defer buf.Close()
		return bytes.Clone(buf.GetBytes())
	}
}
