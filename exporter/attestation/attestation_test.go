package attestation

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"
)

func testRegistration(t testing.TB) *Registration {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	id := sha256.Sum256(der)
	return &Registration{StationID: hex.EncodeToString(id[:]), StationKey: der, AttestationKey: []byte{1},
		SupervisorKeys: []SupervisorKey{{ID: "sam", Key: der}},
		TPM:            RegisteredTPM{Kind: "hardware", Manufacturer: "id:49465800"}, Registered: time.Unix(0, 0).UTC()}
}

// The registration is read strictly: a case variant or duplicate member, an unknown
// member or a software TPM nobody accepted is refused.
func TestParseRegistrationStrict(t *testing.T) {
	r := testRegistration(t)
	b, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ParseRegistration(b); err != nil {
		t.Fatalf("good registration: %v", err)
	}
	s := string(b)
	for name, c := range map[string]struct {
		in     string
		reason string
	}{
		"case variant":  {strings.Replace(s, `"station_id"`, `"Station_ID"`, 1), "malformed"},
		"duplicate key": {strings.Replace(s, `"station_id":`, `"station_id":"00","station_id":`, 1), "malformed"},
		"unknown":       {strings.Replace(s, `{`, `{"extra":1,`, 1), "malformed"},
		"format":        {strings.Replace(s, FormatRegistration, "enrollstation-station-registration/9", 1), "unsupported"},
		"software":      {strings.Replace(s, `"kind":"hardware"`, `"kind":"software"`, 1), "software-tpm"},
		"other key ID":  {strings.Replace(s, r.StationID, strings.Repeat("0", 64), 1), "malformed"},
	} {
		_, err := ParseRegistration([]byte(c.in))
		if got := Reason(err); got != c.reason {
			t.Errorf("%s: reason %q (%v), want %q", name, got, err, c.reason)
		}
	}
	if _, err := r.Supervisor([]byte("not registered")); !errors.Is(err, ErrNotRegistered) {
		t.Fatalf("unregistered key: %v", err)
	}
}

func TestFinishWrongAnswer(t *testing.T) {
	secret := []byte("the secret")
	sum := sha256.Sum256(secret)
	p := &Pending{SecretSHA256: hex.EncodeToString(sum[:]), Registration: *testRegistration(t)}
	if _, err := Finish(p, &Answer{StationID: p.Registration.StationID, Secret: secret}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := Finish(p, &Answer{StationID: p.Registration.StationID, Secret: []byte("the secreT")}, time.Now()); Reason(err) != "activation-failed" {
		t.Fatalf("wrong secret: %v", err)
	}
	if _, err := Finish(p, &Answer{StationID: "other", Secret: secret}, time.Now()); Reason(err) != "wrong-station" {
		t.Fatalf("other station: %v", err)
	}
}

func FuzzParseAttestation(f *testing.F) {
	f.Add([]byte(`{"format":"enrollstation-station-attestation/1","station_id":"","tpm":{"manufacturer":"","firmware":""},"ek_certificates":[],"ek_public":"","ak_public":"","keys":[{"role":"station","id":"x","public":"AAE=","attestation":"","signature":""}],"created":"2026-01-01T00:00:00Z"}`))
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAttestation(b)
		if err != nil {
			return
		}
		// Every certification check must fail cleanly on junk, never panic.
		for _, key := range a.Keys {
			if _, err := verifyKey(key, &k.PublicKey); err == nil {
				t.Fatal("junk certification accepted")
			}
		}
		verifyAK(a.AKPublic)
		verifyEK(a, &Trust{roots: x509.NewCertPool(), intermediates: x509.NewCertPool()}, time.Now())
	})
}

func FuzzParseRegistration(f *testing.F) {
	b, _ := testRegistration(f).Marshal()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRegistration(b)
		if err != nil {
			return
		}
		if _, err := r.StationPublicKey(); err != nil {
			t.Fatalf("parsed registration without a usable station key: %v", err)
		}
	})
}

func FuzzParseChallengeAnswerPending(f *testing.F) {
	f.Add([]byte(`{"format":"enrollstation-activation-challenge/1","station_id":"a","ak_name":"","credential_blob":"","encrypted_secret":""}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseChallenge(b)
		ParseAnswer(b)
		ParsePending(b)
	})
}
