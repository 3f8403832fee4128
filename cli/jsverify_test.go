package cli

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"enrollstation/exporter/attestation"
	"enrollstation/internal/swtpm"
	"enrollstation/internal/testenv"
)

// jsVerdict runs the JavaScript verifier (interop/jsverify) and returns "OK" or the
// reason code of its "FAIL <code>: <what>" line.
func jsVerdict(t *testing.T, args ...string) string {
	t.Helper()
	dir := jsVerdictSetup(t)
	cmd := exec.Command("node", append([]string{filepath.Join(dir, "verify.js")}, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := cmd.ProcessState.ExitCode()
	line := strings.TrimSpace(out.String())
	switch {
	case code == 0 && line == "OK":
		return "OK"
	case code == 1 && strings.HasPrefix(line, "FAIL "):
		c, _, _ := strings.Cut(strings.TrimPrefix(line, "FAIL "), ":")
		return c
	}
	t.Fatalf("node verify.js %v: exit %d (%v)\n%s%s", args, code, err, out.String(), errb.String())
	return ""
}

// jsVerdictSetup checks that Node and the verifier's npm dependencies are installed and
// returns the verifier's directory.
func jsVerdictSetup(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(testenv.Root(), "interop", "jsverify")
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatal("node is not installed (scripts/setup installs it)")
	}
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err != nil {
		t.Fatalf("interop/jsverify has no node_modules: run scripts/setup (npm ci): %v", err)
	}
	return dir
}

// goVerdict runs `enrollstation verify --json` and returns "OK" or its reason code.
func goVerdict(t *testing.T, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	code := Main(context.Background(), append([]string{"verify", "--json"}, args...), strings.NewReader(""), &out, &errb, Commands(), nil)
	var v struct {
		OK     bool   `json:"ok"`
		Reason string `json:"reason"`
	}
	if err := json.Unmarshal(out.Bytes(), &v); err != nil || (code == 0) != v.OK || (code != 0 && code != 1) {
		t.Fatalf("verify --json %v: exit %d, %v\n%s%s", args, code, err, out.String(), errb.String())
	}
	if v.OK {
		return "OK"
	}
	return v.Reason
}

// agree checks that both verifiers give the same verdict and reason code, and returns it.
func agree(t *testing.T, name string, args ...string) string {
	t.Helper()
	g, j := goVerdict(t, args...), jsVerdict(t, args...)
	t.Logf("%s: %s / %s", name, g, j)
	if g != j {
		t.Errorf("%s: enrollstation verify says %s, the JavaScript verifier %s", name, g, j)
	}
	return g
}

// TestJSVerifierAgreesOnVectors: the JavaScript verifier and `enrollstation verify` give
// the same verdict and reason code on the test vector and on damaged copies of it.
func TestJSVerifierAgreesOnVectors(t *testing.T) {
	td := filepath.Join(testenv.Root(), "exporter", "testdata")
	vec, err := os.ReadFile(filepath.Join(td, "vector.esb"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	issuer, station := filepath.Join(td, "issuer.key"), filepath.Join(td, "station.pub")

	// Another issuer and another station, for the wrong-key cases.
	Main(context.Background(), []string{"issuer", "keygen", "--out", filepath.Join(tmp, "other")}, strings.NewReader(""), &bytes.Buffer{}, &bytes.Buffer{}, Commands(), nil)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
	otherStation := filepath.Join(tmp, "other-station.pub")
	os.WriteFile(otherStation, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), 0o644)

	hl := int(binary.BigEndian.Uint32(vec[10:]))
	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), vec...)) }
	flip := func(off int) []byte { return mutate(func(b []byte) []byte { b[off] ^= 0x40; return b }) }
	cases := []struct {
		name   string
		bundle []byte
		args   []string
		want   string
	}{
		{"vector", vec, nil, "OK"},
		{"magic", flip(0), nil, "malformed"},
		{"version", mutate(func(b []byte) []byte { b[9] = 9; return b }), nil, "unsupported"},
		{"header length", mutate(func(b []byte) []byte { binary.BigEndian.PutUint32(b[10:], 1<<20); return b }), nil, "too-large"},
		{"header byte", flip(14 + hl/2), nil, ""},
		{"header signature", flip(14 + hl - 3), nil, "bad-signature"},
		{"ciphertext", flip(14 + hl + 40), nil, "tampered"},
		{"last chunk tag", flip(len(vec) - 600), nil, ""},
		{"trailer signature", flip(len(vec) - 2), nil, "bad-signature"},
		{"truncated", vec[:len(vec)-100], nil, ""},
		{"cut in header", vec[:40], nil, "truncated"},
		{"appended byte", append(append([]byte(nil), vec...), 0), nil, ""},
		{"replay", vec, []string{"--after-seq", "3"}, "replay"},
		{"not replay", vec, []string{"--after-seq", "2"}, "OK"},
		{"chain", vec, []string{"--prev-hash", strings.Repeat("0", 64)}, "chain"},
		{"chain ok", vec, []string{"--prev-hash", strings.Repeat("5a", 32)}, "OK"},
		{"other issuer", vec, []string{"--issuer-key", filepath.Join(tmp, "other", "issuer.key")}, "wrong-issuer"},
		{"other station", vec, []string{"--station-key", otherStation}, "wrong-station"},
		{"issuer key, earlier form", vec, []string{"--issuer-key", filepath.Join(td, "issuer-v1-form.key")}, ""},
	}
	for i, c := range cases {
		p := filepath.Join(tmp, "case"+string(rune('a'+i))+".esb")
		if err := os.WriteFile(p, c.bundle, 0o644); err != nil {
			t.Fatal(err)
		}
		args := []string{"--issuer-key", issuer, "--station-key", station}
		for j := 0; j+1 < len(c.args); j += 2 { // a case's flags replace the defaults
			for n := range args {
				if args[n] == c.args[j] {
					args[n+1] = c.args[j+1]
				}
			}
			if !strings.Contains(strings.Join(args, " "), c.args[j]+" ") {
				args = append(args, c.args[j], c.args[j+1])
			}
		}
		args = append(args, p)
		t.Run(c.name, func(t *testing.T) {
			t.Parallel() // node's start-up dominates; two at a time halve the wait
			if got := agree(t, c.name, args...); c.want != "" && got != c.want {
				t.Errorf("%s: verdict %s, want %s", c.name, got, c.want)
			}
		})
	}

	// Every vector in exporter/testdata (positive and negative ones alike) made with
	// the test keys: the verdicts agree, whatever they are.
	// Negative vectors name their expected reason in expected.json.
	expected := map[string]string{}
	if b, err := os.ReadFile(filepath.Join(td, "negative", "expected.json")); err == nil {
		var list []struct{ File, Reason string }
		if err := json.Unmarshal(b, &list); err != nil {
			t.Fatalf("negative/expected.json: %v", err)
		}
		for _, e := range list {
			expected[e.File] = e.Reason
		}
	}
	all, _ := filepath.Glob(filepath.Join(td, "*.esb"))
	more, _ := filepath.Glob(filepath.Join(td, "*", "*.esb"))
	for _, v := range append(all, more...) {
		key := station // a directory with its own station.pub holds that station's bundles
		if own := filepath.Join(filepath.Dir(v), "station.pub"); filepath.Dir(v) != td {
			if _, err := os.Stat(own); err == nil {
				key = own
			}
		}
		t.Run(filepath.Base(v), func(t *testing.T) {
			t.Parallel()
			got := agree(t, "vector "+filepath.Base(v), "--issuer-key", issuer, "--station-key", key, v)
			if want, ok := expected[filepath.Base(v)]; ok && got != want {
				t.Errorf("vector %s: verdict %s, expected.json says %s", filepath.Base(v), got, want)
			}
		})
	}
}

// TestJSVerifierAgreesOnFreshBundles: on bundles the station path makes now (format 2,
// with roster and statements), with a bare station key and with a station registration,
// the two verifiers agree, intact and damaged.
func TestJSVerifierAgreesOnFreshBundles(t *testing.T) {
	r := newAttestRig(t, swtpm.DefaultCADir)
	r.must("root-password\nsue-password\n", "user", "add", "sue", "--roles", "supervisor", "--as", "root")
	e1 := submitForTest(t, r.data, "clara", "bona.jpg", 1)
	e2 := submitForTest(t, r.data, "clara", "luda.jpg", 2)
	r.must("sam-password\n", "approve", e1, "--as", "sam")
	r.must("sue-password\n", "approve", e2, "--as", "sue")
	batch := strings.TrimSpace(r.must("sam-password\n", "batch", "close", "--as", "sam"))
	bundle := strings.TrimSpace(r.must("sam-password\n", "export", "--batch", batch, "--to", t.TempDir(), "--as", "sam"))
	pub := r.path("station.pem")
	r.must("", "station", "pubkey", "--out", pub)

	att := r.path("station.att")
	r.must("root-password\n", "station", "attest", "--out", att, "--as", "root")
	register := func(att, out string) {
		r.register(swtpm.DefaultCADir, att, "--accept-software-tpm")
		r.must("root-password\n", "station", "activate", r.path("challenge.bin"), "--out", r.path("answer.bin"), "--as", "root")
		r.must("", "issuer", "register", "--finish", r.path("pending.reg"), "--answer", r.path("answer.bin"), "--out", out)
	}
	reg := r.path("station.reg")
	register(att, reg)
	// A registration without sue: her approval key was never certified to the issuer.
	b, _ := os.ReadFile(att)
	a, err := attestation.ParseAttestation(b)
	if err != nil {
		t.Fatal(err)
	}
	var keep []attestation.Key
	for _, k := range a.Keys {
		if k.ID != "sue" {
			keep = append(keep, k)
		}
	}
	a.Keys = keep
	nosue, _ := a.Marshal()
	os.WriteFile(r.path("nosue.att"), nosue, 0o644)
	register(r.path("nosue.att"), r.path("nosue.reg"))

	fresh, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	hl := int(binary.BigEndian.Uint32(fresh[10:]))
	flip := func(off int) string {
		c := append([]byte(nil), fresh...)
		c[off] ^= 0x01
		p := filepath.Join(t.TempDir(), "damaged.esb")
		os.WriteFile(p, c, 0o644)
		return p
	}
	issuer := r.path("issuer.key")
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"fresh, station key", []string{"--issuer-key", issuer, "--station-key", pub, bundle}, "OK"},
		{"fresh, registration", []string{"--issuer-key", issuer, "--station", reg, bundle}, "OK"},
		{"fresh, registration without sue", []string{"--issuer-key", issuer, "--station", r.path("nosue.reg"), bundle}, "unregistered-key"},
		{"fresh, replay", []string{"--issuer-key", issuer, "--station", reg, "--after-seq", "1", bundle}, "replay"},
		{"fresh, header", []string{"--issuer-key", issuer, "--station", reg, flip(14 + hl/3)}, ""},
		{"fresh, ciphertext", []string{"--issuer-key", issuer, "--station", reg, flip(14 + hl + 1000)}, "tampered"},
		{"fresh, trailer", []string{"--issuer-key", issuer, "--station", reg, flip(len(fresh) - 5)}, "bad-signature"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			if got := agree(t, c.name, c.args...); c.want != "" && got != c.want {
				t.Errorf("%s: verdict %s, want %s", c.name, got, c.want)
			}
		})
	}
}

// TestJSVerifierUnitTests runs the JavaScript verifier's own tests (node --test).
func TestJSVerifierUnitTests(t *testing.T) {
	jsVerdictSetup(t)
	cmd := exec.Command("node", "--test", "strictjson.test.js")
	cmd.Dir = filepath.Join(testenv.Root(), "interop", "jsverify")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node --test: %v\n%s", err, out)
	}
}
