package exporter

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"os"
	"path/filepath"
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
		der, err := x509.MarshalECPrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
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

func TestVectors(t *testing.T) {
	dir := "testdata"
	f := vectorFixture(t)
	if *update {
		writeVectorKeys(t, dir, f)
		recs := f.synthRecords(t, 2, 24)
		p := f.params(recs, 3, bytes.Repeat([]byte{0x5a}, 32))
		data, _ := f.build(t, p)
		if err := os.WriteFile(filepath.Join(dir, "vector.esb"), data, 0o644); err != nil {
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
	data := read("vector.esb")
	b, err := Open(bytes.NewReader(data), iss, st, OpenOptions{AfterSeq: 2, PrevHash: bytes.Repeat([]byte{0x5a}, 32)})
	if err != nil {
		t.Fatalf("vector.esb does not verify: %v", err)
	}
	var report bytes.Buffer
	if err := WriteReport(&report, b); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join(dir, "vector.verify.golden")
	if *update {
		if err := os.WriteFile(golden, report.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if want := read("vector.verify.golden"); !bytes.Equal(report.Bytes(), want) {
		t.Errorf("verify report differs from %s:\n got:\n%s\nwant:\n%s", golden, report.Bytes(), want)
	}
	// The records are the ones the vector was made from, and --open writes them byte for byte.
	want := f.synthRecords(t, 2, 24)
	for i := range want {
		want[i].Approval = b.Records[i].Approval // ECDSA signatures are randomised
		if d, _ := ApprovalDigest(want[i]); d != mustDigest(t, b.Records[i]) {
			t.Errorf("record %d differs from the synthetic record it was made from", i)
		}
	}
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
	if v, err := os.ReadFile(filepath.Join("testdata", "vector.esb")); err == nil {
		f.Add(v)
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
