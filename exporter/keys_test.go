package exporter

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"enrollstation/internal/testenv"
)

func TestIssuerKeyRoundTrip(t *testing.T) {
	k, err := GenerateIssuerKey()
	if err != nil {
		t.Fatal(err)
	}
	privText, _ := k.MarshalText()
	pubText, _ := k.Public().MarshalText()
	k2, err := ParseIssuerPrivateKey(privText)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ParseIssuerPublicKey(pubText)
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Public().Equal(k.Public()) || !p2.Equal(k.Public()) {
		t.Fatal("keys differ after a round trip")
	}
	fp := k.Public().Fingerprint()
	if len(fp) != 64+15 || strings.Count(fp, " ") != 15 || !strings.Contains(string(pubText), "Fingerprint: "+fp) {
		t.Errorf("fingerprint %q / file:\n%s", fp, pubText)
	}
	// A bundle to k opens with the parsed private key.
	f := newFixture(t)
	f.issuer = k
	data, _ := f.build(t, f.params(f.synthRecords(t, 1, 16), 1, nil))
	f.issuer = k2
	if _, err := f.open(data, OpenOptions{}); err != nil {
		t.Fatalf("parsed private key cannot open: %v", err)
	}
}

// TestIssuerKeyFilesStandard: the key files are standard PKIX / PKCS#8 blocks, and files of
// the earlier form (one block with headers) are still read.
func TestIssuerKeyFilesStandard(t *testing.T) {
	f := vectorFixture(t)
	pubText, _ := f.issuer.Public().MarshalText()
	_, sigBlock, _, err := twoBlocks(pubText, "PUBLIC KEY")
	if err != nil {
		t.Fatal(err)
	}
	if k, err := x509.ParsePKIXPublicKey(sigBlock); err != nil {
		t.Fatalf("the Ed25519 block is not standard PKIX: %v %T", err, k)
	}
	privText, _ := f.issuer.MarshalText()
	_, sigPriv, _, err := twoBlocks(privText, "PRIVATE KEY")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := x509.ParsePKCS8PrivateKey(sigPriv); err != nil {
		t.Fatalf("the Ed25519 block is not standard PKCS#8: %v", err)
	}
	for _, name := range []string{"issuer-v1-form.pub", "issuer-v1-form.key"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		var pub *IssuerPublicKey
		if strings.HasSuffix(name, ".key") {
			var k *IssuerPrivateKey
			k, err = ParseIssuerPrivateKey(b)
			if k != nil {
				pub = k.Public()
			}
		} else {
			pub, err = ParseIssuerPublicKey(b)
		}
		if err != nil || !pub.Equal(f.issuer.Public()) {
			t.Errorf("%s (earlier form): %v", name, err)
		}
	}
}

func TestParseKeyErrors(t *testing.T) {
	k, _ := GenerateIssuerKey()
	other, _ := GenerateIssuerKey()
	pubText, _ := k.Public().MarshalText()
	privText, _ := k.MarshalText()
	otherPub, _ := other.Public().MarshalText()
	// Swap the fingerprint header of one key into another's file.
	mixed := strings.Replace(string(pubText), k.Public().Fingerprint(), other.Public().Fingerprint(), 1)
	short := pem.EncodeToMemory(&pem.Block{Type: pemIssuerPublic, Bytes: make([]byte, 100)})
	ecPub, _ := x509.MarshalPKIXPublicKey(&newFixture(t).station.PublicKey)
	blocks := strings.SplitAfter(string(pubText), "-----END PUBLIC KEY-----\n")
	badKEM := string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPub})) + blocks[1]
	withHeader := strings.Replace(string(pubText), "-----BEGIN PUBLIC KEY-----\n", "-----BEGIN PUBLIC KEY-----\nKEM: X\n\n", 1)
	for _, tc := range []struct {
		name string
		in   []byte
		priv bool
	}{
		{"empty", nil, false},
		{"private given as public", privText, false},
		{"public given as private", pubText, true},
		{"fingerprint mismatch", []byte(mixed), false},
		{"wrong length", short, false},
		{"other KEM", []byte(badKEM), false},
		{"two keys", append(bytes.Clone(pubText), otherPub...), false},
		{"one block", []byte(blocks[0]), false},
		{"PEM headers", []byte(withHeader), false},
		{"station key", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPub}), false},
	} {
		var err error
		if tc.priv {
			_, err = ParseIssuerPrivateKey(tc.in)
		} else {
			_, err = ParseIssuerPublicKey(tc.in)
		}
		if !errors.Is(err, ErrBadKey) {
			t.Errorf("%s: got %v, want ErrBadKey", tc.name, err)
		}
	}
}

func TestParseStationPublicKey(t *testing.T) {
	f := newFixture(t)
	text, err := MarshalStationPublicKey(&f.station.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseStationPublicKey(text)
	if err != nil || !k.Equal(&f.station.PublicKey) {
		t.Fatalf("PEM: %v", err)
	}
	block, _ := pem.Decode(text)
	if k, err := ParseStationPublicKey(block.Bytes); err != nil || !k.Equal(&f.station.PublicKey) {
		t.Fatalf("DER: %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&p384.PublicKey)
	if _, err := ParseStationPublicKey(der); !errors.Is(err, ErrBadKey) {
		t.Errorf("P-384 key: %v", err)
	}
}

func TestAck(t *testing.T) {
	f := newFixture(t)
	recs := f.synthRecords(t, 3, 16)
	data, _ := f.build(t, f.params(recs, 1, nil))
	b, err := f.open(data, OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 26, 8, 0, 0, 0, time.UTC)
	ack, err := MakeAck(f.issuer, b, map[string]string{recs[1].EnrollmentID: "portrait unusable"}, now)
	if err != nil {
		t.Fatal(err)
	}
	a, err := ParseAck(ack, f.issuer.Public())
	if err != nil {
		t.Fatal(err)
	}
	if a.BundleID != b.ID || a.BundleSHA256 != b.SHA256 || a.StationID != b.StationID || !a.Created.Equal(now) ||
		len(a.Accepted) != 2 || a.Accepted[0] != recs[0].EnrollmentID || a.Accepted[1] != recs[2].EnrollmentID ||
		len(a.Rejected) != 1 || a.Rejected[0] != (Rejection{recs[1].EnrollmentID, "other", "portrait unusable"}) {
		t.Fatalf("ack %+v", a)
	}
	other := newFixture(t)
	if _, err := ParseAck(ack, other.issuer.Public()); !errors.Is(err, ErrBadSignature) {
		t.Errorf("ack checked with another issuer key: %v", err)
	}
	block, _ := pem.Decode(ack)
	for _, off := range []int{0, len(block.Bytes) / 3, len(block.Bytes) / 2, len(block.Bytes) - 1} {
		bad := bytes.Clone(block.Bytes)
		bad[off] ^= 1
		if _, err := ParseAck(pem.EncodeToMemory(&pem.Block{Type: pemAck, Bytes: bad}), f.issuer.Public()); !isAny(err, ErrBadSignature, ErrMalformed, ErrUnsupported) {
			t.Errorf("ack flipped at %d: %v", off, err)
		}
	}
}

func TestExampleEnrollmentIsValid(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(testenv.Root(), "docs", "examples", "enrollment.json"))
	if err != nil {
		t.Fatal(err)
	}
	id, err := ParseIdentity(b)
	if err != nil {
		t.Fatalf("docs/examples/enrollment.json: %v", err)
	}
	if id.FamilyName != "陈" || id.Address.Country != "HKG" || id.Phone == "" || id.PreviousIDNumber == "" {
		t.Errorf("parsed %+v", id)
	}
}

func TestIdentitySchema(t *testing.T) {
	good := newFixture(t).testRecord(t, 3, nil).Identity
	if err := ValidateIdentity(good); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Identity)
		field string
	}{
		{"no family name", func(i *Identity) { i.FamilyName = "" }, "/family_name"},
		{"blank given names", func(i *Identity) { i.GivenNames = "   " }, "/given_names"},
		{"control character", func(i *Identity) { i.PlaceOfBirth = "Köln\x07" }, "/place_of_birth"},
		{"impossible date", func(i *Identity) { i.DateOfBirth = "1990-02-30" }, "/date_of_birth"},
		{"sex", func(i *Identity) { i.Sex = "female" }, "/sex"},
		{"nationality", func(i *Identity) { i.Nationality = "cn" }, "/nationality"},
		{"no address lines", func(i *Identity) { i.Address.Lines = nil }, "/address/lines"},
		{"phone", func(i *Identity) { i.Phone = "12345" }, "/phone"},
		{"name too long", func(i *Identity) { i.FamilyName = strings.Repeat("陈", 101) }, "/family_name"},
	} {
		id := good
		id.Address.Lines = append([]string(nil), good.Address.Lines...)
		tc.edit(&id)
		err := ValidateIdentity(id)
		var se *SchemaError
		if !errors.As(err, &se) || !strings.Contains(se.Detail, tc.field) {
			t.Errorf("%s: got %v, want a schema error naming %s", tc.name, err, tc.field)
		}
	}
	if _, err := ParseIdentity([]byte(`{"family_name":"x","extra":1}`)); !errors.Is(err, ErrSchema) {
		t.Errorf("unknown field: %v", err)
	}
}

func FuzzParseIssuerPublicKey(f *testing.F) {
	k, _ := issuerKeyFromSeed([64]byte{1})
	pub, _ := k.Public().MarshalText()
	f.Add(pub)
	f.Add([]byte("-----BEGIN ENROLLSTATION ISSUER PUBLIC KEY-----\n\n-----END ENROLLSTATION ISSUER PUBLIC KEY-----\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseIssuerPublicKey(b)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("error does not wrap ErrBadKey: %v", err)
			}
			return
		}
		// Whatever parses must re-encode to a file that parses to the same key.
		text, _ := p.MarshalText()
		p2, err := ParseIssuerPublicKey(text)
		if err != nil || !p2.Equal(p) {
			t.Fatalf("re-encoded key does not parse back: %v", err)
		}
	})
}

func FuzzParseIssuerPrivateKey(f *testing.F) {
	k, _ := issuerKeyFromSeed([64]byte{2})
	priv, _ := k.MarshalText()
	f.Add(priv)
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseIssuerPrivateKey(b)
		if err != nil {
			if !errors.Is(err, ErrBadKey) {
				t.Fatalf("error does not wrap ErrBadKey: %v", err)
			}
			return
		}
		text, _ := p.MarshalText()
		if p2, err := ParseIssuerPrivateKey(text); err != nil || !p2.Public().Equal(p.Public()) {
			t.Fatalf("re-encoded key does not parse back: %v", err)
		}
	})
}

func FuzzParseStationPublicKey(f *testing.F) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	text, _ := MarshalStationPublicKey(&k.PublicKey)
	f.Add(text)
	f.Fuzz(func(t *testing.T, b []byte) {
		if _, err := ParseStationPublicKey(b); err != nil && !errors.Is(err, ErrBadKey) {
			t.Fatalf("error does not wrap ErrBadKey: %v", err)
		}
	})
}

func FuzzParseAck(f *testing.F) {
	fx := newFixture(f)
	data, _ := fx.build(f, fx.params(fx.synthRecords(f, 1, 16), 1, nil))
	b, err := fx.open(data, OpenOptions{})
	if err != nil {
		f.Fatal(err)
	}
	ack, _ := MakeAck(fx.issuer, b, nil, time.Now())
	f.Add(ack)
	f.Fuzz(func(t *testing.T, in []byte) {
		a, err := ParseAck(in, fx.issuer.Public())
		if err == nil && a.BundleID != b.ID {
			t.Fatalf("forged acknowledgement accepted: %+v", a)
		}
	})
}

func FuzzParseIdentity(f *testing.F) {
	ex, err := os.ReadFile(filepath.Join(testenv.Root(), "docs", "examples", "enrollment.json"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ex)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		id, err := ParseIdentity(b)
		if err != nil {
			if !errors.Is(err, ErrSchema) {
				t.Fatalf("error does not wrap ErrSchema: %v", err)
			}
			return
		}
		if err := ValidateIdentity(id); err != nil {
			t.Fatalf("parsed identity fails validation: %v", err)
		}
	})
}
