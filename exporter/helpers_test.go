package exporter

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	mrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"enrollstation/internal/testenv"
)

// fixture holds the keys of one station, one supervisor and one issuer.
type fixture struct {
	station    *ecdsa.PrivateKey
	supervisor *ecdsa.PrivateKey
	issuer     *IssuerPrivateKey
}

func newFixture(t testing.TB) fixture {
	t.Helper()
	st, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sup, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := GenerateIssuerKey()
	if err != nil {
		t.Fatal(err)
	}
	return fixture{station: st, supervisor: sup, issuer: iss}
}

var testNames = []struct{ family, given, place string }{
	{"陈", "美玲", "香港"},
	{"Chen", "Mei Ling", "Hong Kong"},
	{"Kim", "Bo-na", "Seoul"},
	{"Müller-Lüdenscheidt", "Anna Maria", "Köln"},
	{"O'Brien", "Seán", "Dublin"},
}

// testRecord makes record i with the given portrait; everything else is fixed by i, and
// the approval is signed by the fixture's supervisor.
func (f fixture) testRecord(t testing.TB, i int, portrait []byte) Record {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(uint64(i), 42))
	tmpl := make([]byte, 512) // 128 float32, like a dlib descriptor
	for k := range tmpl {
		tmpl[k] = byte(rng.UintN(256))
	}
	n := testNames[i%len(testNames)]
	r := Record{
		EnrollmentID: fmt.Sprintf("E-%05d", i),
		Identity: Identity{
			FamilyName: n.family, GivenNames: n.given,
			DateOfBirth: fmt.Sprintf("19%02d-%02d-%02d", 50+i%50, 1+i%12, 1+i%28),
			Sex:         []string{"F", "M", "X"}[i%3], Nationality: "CHN", PlaceOfBirth: n.place,
			Address: Address{Lines: []string{fmt.Sprintf("%d 德辅道中", i+1), "Flat B"}, Locality: "中環", Country: "HKG"},
		},
		Portrait: portrait, Template: tmpl,
		ModelID: "dlib_face_recognition_resnet_model_v1", TemplateVersion: "1",
		Quality: []QualityMeasure{
			{ID: "UnifiedQualityScore", Raw: 0.1 + float64(i)/1000, Scalar: 40 + i%60},
			{ID: "BackgroundUniformity", Raw: 12.345678901234567 * float64(i+1), Scalar: 100 - i%100},
			{ID: "Sharpness", Raw: -3e-7 * float64(i), Scalar: i % 101},
		},
		Capture: Capture{Operator: "clerk1", CameraProfile: "logitech-c920-counter2", Retries: i % 4,
			CapturedAt: time.Date(2026, 11, 25, 9, 0, i%60, 123456789, time.UTC)},
	}
	if i%7 == 3 {
		r.Identity.PreviousIDNumber = fmt.Sprintf("A%07d(3)", i)
		r.Identity.Phone = "+85291234567"
		r.Identity.Address.PostalCode = "999077"
		r.Capture.ForcedReason = "applicant wears a medical head covering"
	}
	return f.approve(t, r)
}

// stationID is the fixture station's ID in hex.
func (f fixture) stationID(t testing.TB) string {
	id, err := StationID(&f.station.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(id[:])
}

// approve signs r as the fixture's supervisor (a format-v2 statement approval).
func (f fixture) approve(t testing.TB, r Record) Record {
	t.Helper()
	a, err := SignApproval(r, f.supervisor, f.stationID(t), "supervisor1", time.Date(2026, 11, 25, 10, 30, 0, 5, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	r.Approval = a
	return r
}

// rosterEntry registers a supervisor key as the station's vault would.
func rosterEntry(id string, k *ecdsa.PrivateKey) RosterEntry {
	der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
	if err != nil {
		panic(err) // a P-256 key always marshals
	}
	return RosterEntry{SupervisorID: id, DisplayName: "Supervisor " + id, PublicKey: der,
		Created: time.Date(2026, 1, 5, 8, 0, 0, 0, time.UTC)}
}

// photoRecords makes n records whose portraits are the shared test photos, in turn.
func (f fixture) photoRecords(t testing.TB, n int) []Record {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(testenv.FacesDir(t), "*.jpg"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no test photos: %v", err)
	}
	sort.Strings(paths)
	photos := make([][]byte, len(paths))
	for i, p := range paths {
		if photos[i], err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = f.testRecord(t, i, photos[i%len(photos)])
	}
	return recs
}

// smallJPEG makes a small synthetic JPEG of about size bytes of entropy-ish content.
func smallJPEG(t testing.TB, w, h int, seed uint64) []byte {
	t.Helper()
	rng := mrand.New(mrand.NewPCG(seed, 7))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), uint8(rng.UintN(256)), 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// synthRecords makes n records with synthetic portraits (no photos), for small bundles.
func (f fixture) synthRecords(t testing.TB, n, side int) []Record {
	t.Helper()
	recs := make([]Record, n)
	for i := range recs {
		recs[i] = f.testRecord(t, i, smallJPEG(t, side, side, uint64(i)))
	}
	return recs
}

func (f fixture) params(recs []Record, seq uint64, prev []byte) BuildParams {
	ids := make([]string, len(recs))
	for i, r := range recs {
		ids[i] = r.EnrollmentID
	}
	return BuildParams{
		Records: Records(recs), StationSigner: f.station, IssuerKey: f.issuer.Public(),
		Seq: seq, PrevHash: prev,
		Batch:   Batch{ID: "B-2026-11-25-1", ClosedAt: time.Date(2026, 11, 25, 11, 0, 0, 0, time.UTC), EnrollmentIDs: ids},
		Audit:   AuditCheckpoint{Seq: 77, Hash: bytes.Repeat([]byte{0xab}, 32), Signature: []byte("audit-sig")},
		Created: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC),
		Roster:  []RosterEntry{rosterEntry("supervisor1", f.supervisor)},
	}
}

func (f fixture) build(t testing.TB, p BuildParams) ([]byte, Result) {
	t.Helper()
	var b bytes.Buffer
	res, err := Build(&b, p)
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return b.Bytes(), res
}

func (f fixture) open(data []byte, opts OpenOptions) (*Bundle, error) {
	return Open(bytes.NewReader(data), f.issuer, &f.station.PublicKey, opts)
}

// startReceiver serves h over TLS with rc's mutual-TLS configuration (registered stations
// only) and returns the server and a target for it authenticated as station.
func startReceiver(t testing.TB, h http.Handler, rc *Receiver, station crypto.Signer) (*httptest.Server, *HTTPTarget) {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.TLS = rc.TLSConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	cert, err := StationClientCertificate(station, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	return srv, &HTTPTarget{URL: srv.URL, ClientCert: cert, RootCAs: roots}
}
