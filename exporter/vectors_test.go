package exporter

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "regenerate exporter/testdata test vectors")

// vectorFixture derives the fixed test-vector keys from constant seeds.
func vectorFixture(t testing.TB) fixture {
	t.Helper()
	ec := func(label string) *ecdsa.PrivateKey {
		d := sha256.Sum256([]byte("enrollstation test vector " + label))
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d[:])
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	var seed [64]byte
	s := sha256.Sum256([]byte("enrollstation test vector issuer kem"))
	copy(seed[:32], s[:])
	s = sha256.Sum256([]byte("enrollstation test vector issuer sig"))
	copy(seed[32:], s[:])
	iss, err := issuerKeyFromSeed(seed)
	if err != nil {
		t.Fatal(err)
	}
	return fixture{station: ec("station"), supervisor: ec("supervisor"), issuer: iss}
}

func writeVectorKeys(t *testing.T, dir string, f fixture) {
	ecPEM := func(k *ecdsa.PrivateKey) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	stPub, _ := MarshalStationPublicKey(&f.station.PublicKey)
	issPriv, _ := f.issuer.MarshalText()
	issPub, _ := f.issuer.Public().MarshalText()
	for name, b := range map[string][]byte{
		"station.key": ecPEM(f.station), "station.pub": stPub, "supervisor.key": ecPEM(f.supervisor),
		"issuer.key": issPriv, "issuer.pub": issPub,
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// vectorParams are the parameters of testdata/vector.esb: sequence 3 after a bundle
// whose hash is 32 bytes of 0x5a.
func vectorParams(t testing.TB, f fixture) BuildParams {
	return f.params(f.synthRecords(t, 2, 24), 3, bytes.Repeat([]byte{0x5a}, 32))
}

// negativeVector is a bundle the reader must refuse, with its reason code.
type negativeVector struct {
	Name   string `json:"file"`
	Reason string `json:"reason"`
	data   []byte
}

// negativeVectors makes one bundle per reader hole, signed and encrypted with the vector
// keys, each refused with its reason code.
func negativeVectors(t *testing.T, f fixture) []negativeVector {
	var out []negativeVector
	slug := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
				return r
			}
			return '-'
		}, strings.ToLower(s))
	}
	for _, tc := range tamperCases() {
		out = append(out, negativeVector{slug(tc.name) + FileExt, tc.want, f.resealed(t, vectorParams(t, f), tc)})
	}
	for _, tc := range approvalKeyCases(t, f) {
		p := vectorParams(t, f)
		recs := slices.Clone([]Record(p.Records.(Records)))
		tc.edit(&p, recs)
		p.Records, p.skipRecordChecks = Records(recs), true
		data, _ := f.build(t, p)
		out = append(out, negativeVector{slug(tc.name) + FileExt, tc.want, data})
	}
	good, _ := f.build(t, vectorParams(t, f))
	flipped := bytes.Clone(good)
	flipped[len(flipped)/2] ^= 1
	out = append(out, negativeVector{"truncated" + FileExt, "truncated", good[:len(good)-100]},
		negativeVector{"ciphertext-bit-flip" + FileExt, "tampered", flipped})
	return out
}

// TestVectors checks the committed vectors: the key files, the format-1 bundle (frozen),
// the format-2 bundle and its report, and every negative vector's reason code.
// -update writes them again (all but the format-1 bundle, which no writer makes now).
func TestVectors(t *testing.T) {
	dir := "testdata"
	f := vectorFixture(t)
	if *update {
		writeVectorKeys(t, dir, f)
		data, _ := f.build(t, vectorParams(t, f))
		if err := os.WriteFile(filepath.Join(dir, "vector.esb"), data, 0o644); err != nil {
			t.Fatal(err)
		}
		neg := negativeVectors(t, f)
		os.RemoveAll(filepath.Join(dir, "negative"))
		os.Mkdir(filepath.Join(dir, "negative"), 0o755)
		for _, v := range neg {
			if err := os.WriteFile(filepath.Join(dir, "negative", v.Name), v.data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		idx, _ := json.MarshalIndent(neg, "", "  ")
		if err := os.WriteFile(filepath.Join(dir, "negative", "expected.json"), append(idx, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// The committed key files are the derived keys, in the documented formats.
	read := func(name string) []byte {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%v (run go test ./exporter -run TestVectors -update)", err)
		}
		return b
	}
	iss, err := ParseIssuerPrivateKey(read("issuer.key"))
	if err != nil || !iss.Public().Equal(f.issuer.Public()) {
		t.Fatalf("issuer.key: %v", err)
	}
	if pub, err := ParseIssuerPublicKey(read("issuer.pub")); err != nil || !pub.Equal(f.issuer.Public()) {
		t.Fatalf("issuer.pub: %v", err)
	}
	st, err := ParseStationPublicKey(read("station.pub"))
	if err != nil || !st.Equal(&f.station.PublicKey) {
		t.Fatalf("station.pub: %v", err)
	}
	for _, v := range []struct{ bundle, golden string }{{"vector.esb", "vector.verify.golden"}, {"vector-v1.esb", "vector-v1.verify.golden"}} {
		b, err := Open(bytes.NewReader(read(v.bundle)), iss, st, OpenOptions{AfterSeq: 2, PrevHash: bytes.Repeat([]byte{0x5a}, 32)})
		if err != nil {
			t.Fatalf("%s does not verify: %v", v.bundle, err)
		}
		var report bytes.Buffer
		if err := WriteReport(&report, b); err != nil {
			t.Fatal(err)
		}
		if *update {
			if err := os.WriteFile(filepath.Join(dir, v.golden), report.Bytes(), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if want := read(v.golden); !bytes.Equal(report.Bytes(), want) {
			t.Errorf("verify report differs from %s:\n got:\n%s\nwant:\n%s", v.golden, report.Bytes(), want)
		}
		checkOpened(t, b)
	}
	// The real-station vector (written by go test ./enroll -run TestExportVectors -update).
	sst, err := ParseStationPublicKey(read("station/station.pub"))
	if err != nil {
		t.Fatal(err)
	}
	sb, err := Open(bytes.NewReader(read("station/bundle.esb")), iss, sst, OpenOptions{})
	if err != nil {
		t.Fatalf("station/bundle.esb does not verify: %v", err)
	}
	var sr bytes.Buffer
	WriteReport(&sr, sb)
	if !bytes.Equal(sr.Bytes(), read("station/bundle.verify.golden")) {
		t.Errorf("station/bundle.esb report differs from its golden:\n%s", sr.Bytes())
	}
	// The records of the format-1 vector are the synthetic ones it was made from.
	b1, _ := Open(bytes.NewReader(read("vector-v1.esb")), iss, st, OpenOptions{})
	want := f.synthRecords(t, 2, 24)
	for i := range want {
		if d, _ := ApprovalDigest(want[i]); d != mustDigest(t, b1.Records[i]) {
			t.Errorf("record %d differs from the synthetic record it was made from", i)
		}
	}
	// Every negative vector is refused with its reason code.
	var neg []negativeVector
	if err := json.Unmarshal(read("negative/expected.json"), &neg); err != nil || len(neg) < 15 {
		t.Fatalf("negative/expected.json: %d vectors, %v", len(neg), err)
	}
	for _, v := range neg {
		_, err := Open(bytes.NewReader(read("negative/"+v.Name)), iss, st, OpenOptions{})
		if Reason(err) != v.Reason {
			t.Errorf("negative/%s: reason %q (%v), want %q", v.Name, Reason(err), err, v.Reason)
		}
	}
}

// checkOpened checks --open writes every member byte for byte.
func checkOpened(t *testing.T, b *Bundle) {
	t.Helper()
	out := t.TempDir()
	if err := WriteRecords(out, b); err != nil {
		t.Fatal(err)
	}
	var m manifest
	if err := decodeStrict(b.Manifest, &m); err != nil {
		t.Fatal(err)
	}
	for _, mr := range m.Records {
		for _, mb := range mr.Members {
			got, err := os.ReadFile(filepath.Join(out, mr.EnrollmentID, mb.Name))
			if err != nil {
				t.Fatal(err)
			}
			if sum := sha256.Sum256(got); hex.EncodeToString(sum[:]) != mb.SHA256 {
				t.Errorf("opened %s/%s differs from the bundle member", mr.EnrollmentID, mb.Name)
			}
		}
	}
}

func mustDigest(t *testing.T, r Record) [32]byte {
	t.Helper()
	d, err := ApprovalDigest(r)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func FuzzOpen(f *testing.F) {
	fx := vectorFixture(f)
	valid, _ := fx.build(f, fx.params(fx.synthRecords(f, 2, 24), 1, nil))
	f.Add(valid)
	f.Add(valid[:preambleSize+40])
	f.Add(valid[:len(valid)-10])
	for _, name := range []string{"vector.esb", "vector-v1.esb"} {
		if v, err := os.ReadFile(filepath.Join("testdata", name)); err == nil {
			f.Add(v)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := Open(bytes.NewReader(data), fx.issuer, &fx.station.PublicKey, OpenOptions{MaxMemberSize: 1 << 20, MaxManifestSize: 1 << 20})
		if err != nil {
			if Reason(err) == "error" {
				t.Fatalf("error names no reason: %v", err)
			}
			return
		}
		// Only genuine bundles from this station open.
		if len(data) != len(valid) && b.SHA256 != sha256.Sum256(data) {
			t.Fatalf("opened a bundle that is not the input")
		}
	})
}
