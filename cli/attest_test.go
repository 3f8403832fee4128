package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enrollstation/exporter/attestation"
	"enrollstation/internal/swtpm"
)

// attestRig is one station and an issuer working through the registration commands.
type attestRig struct {
	t          *testing.T
	data, keys string
}

func (r *attestRig) run(stdin string, args ...string) (string, string, int) {
	r.t.Helper()
	var out, errb bytes.Buffer
	args = append(args, "--data", r.data, "--tpm", "swtpm", "--password-stdin")
	code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, Commands(), nil)
	return out.String(), errb.String(), code
}

func (r *attestRig) must(stdin string, args ...string) string {
	r.t.Helper()
	out, errs, code := r.run(stdin, args...)
	if code != 0 {
		r.t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
	}
	return out
}

func (r *attestRig) path(name string) string { return filepath.Join(r.keys, name) }

// fails runs a command that must fail with exit 1 and the reason code given.
func (r *attestRig) fails(reason string, args ...string) string {
	r.t.Helper()
	out, errs, code := r.run("root-password\n", args...)
	if code != 1 || !strings.Contains(errs, "FAIL "+reason+":") {
		r.t.Fatalf("%v: exit %d, want 1 with FAIL %s:\n%s%s", args, code, reason, out, errs)
	}
	return errs
}

// newAttestRig provisions a station whose swtpm was manufactured with an EK certificate
// from the swtpm local CA in caDir, with a supervisor and an issuer key.
func newAttestRig(t *testing.T, caDir string) *attestRig {
	r := &attestRig{t: t, data: t.TempDir(), keys: t.TempDir()}
	// "--tpm swtpm" keeps its state in DATA/swtpm; manufacturing it first picks the CA.
	if err := swtpm.Manufacture(context.Background(), filepath.Join(r.data, "swtpm"), caDir); err != nil {
		t.Fatal(err)
	}
	r.must("", "issuer", "keygen", "--out", r.keys)
	r.must("root-password\n", "station", "init", "--admin", "root", "--issuer-key", r.path("issuer.pub"))
	r.must("root-password\nsam-password\n", "user", "add", "sam", "--roles", "supervisor", "--as", "root")
	r.must("root-password\nclara-password\n", "user", "add", "clara", "--roles", "clerk", "--as", "root")
	return r
}

func (r *attestRig) register(ca, att string, extra ...string) {
	r.t.Helper()
	r.must("", append([]string{"issuer", "register", "--attestation", att, "--tpm-ca", ca,
		"--out", r.path("pending.reg"), "--challenge-out", r.path("challenge.bin")}, extra...)...)
}

func TestAttestRegisterVerify(t *testing.T) {
	ca := swtpm.DefaultCADir
	r := newAttestRig(t, ca)

	e1 := submitForTest(t, r.data, "clara", "bona.jpg", 1)
	r.must("sam-password\n", "approve", e1, "--as", "sam")
	batch := strings.TrimSpace(r.must("sam-password\n", "batch", "close", "--as", "sam"))
	usb := t.TempDir()
	bundle := strings.TrimSpace(r.must("sam-password\n", "export", "--batch", batch, "--to", usb, "--as", "sam"))

	att := r.path("station.att")
	if _, errs, code := r.run("", "station", "attest", "--out", att); code != 1 || !strings.Contains(errs, "--as ADMIN") {
		t.Fatalf("first attest without --as: exit %d %q", code, errs)
	}
	r.must("root-password\n", "station", "attest", "--out", att, "--as", "root")
	b, _ := os.ReadFile(att)
	a, err := attestation.ParseAttestation(b)
	if err != nil || len(a.EKCertificates) == 0 || len(a.Keys) != 2 {
		t.Fatalf("station.att: %v, %d EK certificates, %d keys", err, len(a.EKCertificates), len(a.Keys))
	}

	regArgs := []string{"issuer", "register", "--attestation", att, "--tpm-ca", ca,
		"--out", r.path("pending.reg"), "--challenge-out", r.path("challenge.bin")}
	// swtpm is recognised as a software TPM and refused unless accepted.
	if errs := r.fails("software-tpm", regArgs...); !strings.Contains(errs, "swtpm") {
		t.Fatalf("software TPM refusal does not say what it saw: %q", errs)
	}
	out := r.must("", append(regArgs, "--accept-software-tpm")...)
	if !strings.Contains(out, "software (manufacturer id:00001014, model swtpm") {
		t.Fatalf("register output does not show the software TPM:\n%s", out)
	}
	r.must("root-password\n", "station", "activate", r.path("challenge.bin"), "--out", r.path("answer.bin"), "--as", "root")

	// A wrong answer fails and writes no registration.
	ans, _ := os.ReadFile(r.path("answer.bin"))
	a2, err := attestation.ParseAnswer(ans)
	if err != nil {
		t.Fatal(err)
	}
	a2.Secret[0] ^= 1
	bad, _ := a2.Marshal()
	os.WriteFile(r.path("wrong-answer.bin"), bad, 0o600)
	reg := r.path("station.reg")
	r.fails("activation-failed", "issuer", "register", "--finish", r.path("pending.reg"), "--answer", r.path("wrong-answer.bin"), "--out", reg)
	if _, err := os.Stat(reg); err == nil {
		t.Fatal("a wrong answer wrote station.reg")
	}

	r.must("", "issuer", "register", "--finish", r.path("pending.reg"), "--answer", r.path("answer.bin"), "--out", reg)
	rb, _ := os.ReadFile(reg)
	rg, err := attestation.ParseRegistration(rb)
	if err != nil || !rg.AcceptedSoftwareTPM || rg.TPM.Kind != "software" || len(rg.SupervisorKeys) != 1 || rg.SupervisorKeys[0].ID != "sam" {
		t.Fatalf("station.reg: %v\n%s", err, rb)
	}

	out, errs, code := r.run("", "verify", "--issuer-key", r.path("issuer.key"), "--station", reg, "--json", bundle)
	var v struct {
		OK bool `json:"ok"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &v) != nil || !v.OK {
		t.Fatalf("verify --station: exit %d\n%s%s", code, out, errs)
	}

	// A registration whose attestation left out the supervisor: the TPM never
	// certified the key that signed the approval, so verify refuses the bundle.
	a.Keys = a.Keys[:1]
	noSup, _ := a.Marshal()
	os.WriteFile(r.path("nosup.att"), noSup, 0o644)
	r.register(ca, r.path("nosup.att"), "--accept-software-tpm")
	r.must("root-password\n", "station", "activate", r.path("challenge.bin"), "--out", r.path("answer.bin"), "--as", "root")
	r.must("", "issuer", "register", "--finish", r.path("pending.reg"), "--answer", r.path("answer.bin"), "--out", r.path("nosup.reg"))
	r.fails("unregistered-key", "verify", "--issuer-key", r.path("issuer.key"), "--station", r.path("nosup.reg"), bundle)
}

// TestRegisterRefusesUncertified: a key the TPM did not certify, and an EK certificate
// from a CA the issuer does not trust, are refused with their reason codes.
func TestRegisterRefusesUncertified(t *testing.T) {
	otherCA := t.TempDir()
	r := newAttestRig(t, otherCA)
	att := r.path("station.att")
	r.must("root-password\n", "station", "attest", "--out", att, "--as", "root")
	regArgs := func(att, ca string) []string {
		return []string{"issuer", "register", "--attestation", att, "--tpm-ca", ca, "--accept-software-tpm",
			"--out", r.path("pending.reg"), "--challenge-out", r.path("challenge.bin")}
	}
	// The station's own CA is not the one the issuer trusts.
	if err := swtpm.Manufacture(context.Background(), t.TempDir(), swtpm.DefaultCADir); err != nil {
		t.Fatal(err) // makes sure the default CA exists
	}
	r.fails("ek-untrusted", regArgs(att, swtpm.DefaultCADir)...)
	// Trusting that CA, the same attestation passes.
	r.must("", regArgs(att, otherCA)...)

	b, _ := os.ReadFile(att)
	tamper := func(name string, edit func(a *attestation.Attestation)) string {
		a, err := attestation.ParseAttestation(b)
		if err != nil {
			t.Fatal(err)
		}
		edit(a)
		out, _ := a.Marshal()
		p := r.path(name)
		os.WriteFile(p, out, 0o644)
		return p
	}
	for _, c := range []struct {
		name   string
		reason string
		edit   func(a *attestation.Attestation)
	}{
		// The supervisor's entry claims the station key's public area: the certification
		// names another key.
		{"swapped.att", "key-not-certified", func(a *attestation.Attestation) { a.Keys[1].Public = a.Keys[0].Public }},
		// A certification made for the station key relabelled as a supervisor's.
		{"relabelled.att", "key-not-certified", func(a *attestation.Attestation) {
			a.Keys[1].Attestation, a.Keys[1].Signature = a.Keys[0].Attestation, a.Keys[0].Signature
		}},
		{"badsig.att", "key-not-certified", func(a *attestation.Attestation) { a.Keys[0].Attestation[len(a.Keys[0].Attestation)-1] ^= 1 }},
		{"nostation.att", "key-not-certified", func(a *attestation.Attestation) { a.Keys = a.Keys[1:] }},
		{"foreign-ek.att", "ek-mismatch", func(a *attestation.Attestation) { a.EKPublic = a.AKPublic }},
	} {
		r.fails(c.reason, regArgs(tamper(c.name, c.edit), otherCA)...)
	}

	// A station presenting another TPM's (genuine, trusted) EK certificate with its own
	// attestation key passes the checks, but its TPM cannot answer the challenge, which
	// only the TPM holding that EK can decrypt.
	r2 := newAttestRig(t, otherCA)
	att2 := r2.path("station.att")
	r2.must("root-password\n", "station", "attest", "--out", att2, "--as", "root")
	b2, _ := os.ReadFile(att2)
	a1, _ := attestation.ParseAttestation(b)
	a2, err := attestation.ParseAttestation(b2)
	if err != nil {
		t.Fatal(err)
	}
	a2.EKCertificates, a2.EKPublic = a1.EKCertificates, a1.EKPublic
	borrowed, _ := a2.Marshal()
	os.WriteFile(r2.path("borrowed.att"), borrowed, 0o644)
	r2.must("", "issuer", "register", "--attestation", r2.path("borrowed.att"), "--tpm-ca", otherCA, "--accept-software-tpm",
		"--out", r2.path("pending.reg"), "--challenge-out", r2.path("challenge.bin"))
	if _, errs, code := r2.run("root-password\n", "station", "activate", r2.path("challenge.bin"), "--out", r2.path("answer.bin"), "--as", "root"); code != 1 || !strings.Contains(errs, "not made for this TPM") {
		t.Fatalf("activation with another TPM's EK: exit %d %q", code, errs)
	}
	if _, err := os.Stat(r2.path("answer.bin")); err == nil {
		t.Fatal("an answer was written without activation")
	}
	// Nor does a challenge for one station activate on another.
	r.must("", regArgs(att, otherCA)...)
	if _, errs, code := r2.run("root-password\n", "station", "activate", r.path("challenge.bin"), "--out", r2.path("answer.bin"), "--as", "root"); code != 1 || !strings.Contains(errs, "challenge is for station") {
		t.Fatalf("activation on another station: exit %d %q", code, errs)
	}
}
