package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"enrollstation/exporter"
	"enrollstation/internal/testenv"
)

// vectors is exporter's test-vector directory: fixed keys, a bundle and its expected report.
func vectors(name string) string { return filepath.Join(testenv.Root(), "exporter", "testdata", name) }

func runIssuer(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb, issuerCommands(), testRoot)
	return code, out.String(), errb.String()
}

func TestVerifyCommand(t *testing.T) {
	keys := []string{"--issuer-key", vectors("issuer.key"), "--station-key", vectors("station.pub")}
	golden, err := os.ReadFile(vectors("vector.verify.golden"))
	if err != nil {
		t.Fatal(err)
	}
	code, out, errs := runIssuer(t, append(append([]string{"verify"}, keys...), "--after-seq", "2", vectors("vector.esb"))...)
	if code != 0 || out != string(golden) {
		t.Fatalf("verify: exit %d\nstdout:\n%s\nstderr:\n%s\nwant stdout:\n%s", code, out, errs, golden)
	}

	dir := t.TempDir()
	code, out, _ = runIssuer(t, append(append([]string{"verify"}, keys...), vectors("vector.esb"), "--open", dir)...)
	if code != 0 || !strings.Contains(out, "opened       2 records under "+dir) {
		t.Fatalf("verify --open: exit %d, %s", code, out)
	}
	for _, name := range []string{"manifest.json", "E-00000/identity.json", "E-00000/portrait.jpg", "E-00001/template.bin",
		"E-00001/quality.json", "E-00001/capture.json", "E-00001/approval.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("--open did not write %s", name)
		}
	}

	data, _ := os.ReadFile(vectors("vector.esb"))
	bad := bytes.Clone(data)
	bad[len(bad)/2] ^= 0x10
	badPath := filepath.Join(t.TempDir(), "bad.esb")
	os.WriteFile(badPath, bad, 0o600)
	other := t.TempDir()
	if code, _, errs := runIssuer(t, "issuer", "keygen", "--out", other); code != 0 {
		t.Fatalf("keygen: %s", errs)
	}
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"tampered", append(append([]string{"verify"}, keys...), badPath), "FAIL tampered: exporter: ciphertext chunk 0 tampered"},
		{"replay", append(append([]string{"verify"}, keys...), "--after-seq", "3", vectors("vector.esb")), "FAIL replay:"},
		{"chain", append(append([]string{"verify"}, keys...), "--prev-hash", strings.Repeat("00", 32), vectors("vector.esb")), "FAIL chain:"},
		{"wrong issuer", []string{"verify", "--issuer-key", filepath.Join(other, "issuer.key"), "--station-key", vectors("station.pub"), vectors("vector.esb")}, "FAIL wrong-issuer:"},
	} {
		code, _, errs := runIssuer(t, tc.args...)
		if code != 1 || !strings.Contains(errs, tc.want) {
			t.Errorf("%s: exit %d, stderr %q, want 1 and %q", tc.name, code, errs, tc.want)
		}
	}
	if code, _, _ := runIssuer(t, "verify", vectors("vector.esb")); code != 2 {
		t.Errorf("missing keys: exit %d, want 2", code)
	}
}

func TestIssuerKeygenAndAck(t *testing.T) {
	dir := t.TempDir()
	code, out, errs := runIssuer(t, "issuer", "keygen", "--out", dir)
	if code != 0 {
		t.Fatalf("keygen: %s", errs)
	}
	st, err := os.Stat(filepath.Join(dir, "issuer.key"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("issuer.key: %v %v", st.Mode(), err)
	}
	pubText, _ := os.ReadFile(filepath.Join(dir, "issuer.pub"))
	pub, err := exporter.ParseIssuerPublicKey(pubText)
	if err != nil || !strings.Contains(out, pub.Fingerprint()) {
		t.Fatalf("issuer.pub: %v; output %q", err, out)
	}
	if code, _, errs := runIssuer(t, "issuer", "keygen", "--out", dir); code != 1 || !strings.Contains(errs, "--force") {
		t.Errorf("keygen over existing keys: exit %d %q", code, errs)
	}

	ackPath := filepath.Join(t.TempDir(), "ack.pem")
	code, out, errs = runIssuer(t, "issuer", "ack", "--issuer-key", vectors("issuer.key"), "--station-key", vectors("station.pub"),
		"--reject", "E-00001=portrait-quality:portrait unusable", "--out", ackPath, vectors("vector.esb"))
	if code != 0 {
		t.Fatalf("ack: exit %d %s %s", code, out, errs)
	}
	ack, _ := os.ReadFile(ackPath)
	vpub, _ := os.ReadFile(vectors("issuer.pub"))
	ipub, err := exporter.ParseIssuerPublicKey(vpub)
	if err != nil {
		t.Fatal(err)
	}
	a, err := exporter.ParseAck(ack, ipub)
	if err != nil || len(a.Accepted) != 1 || a.Accepted[0] != "E-00000" || len(a.Rejected) != 1 || a.Rejected[0].EnrollmentID != "E-00001" {
		t.Fatalf("ack: %+v %v", a, err)
	}
}

func TestIssuerServe(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, roots := serverCert(t)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		var errb bytes.Buffer
		code <- Main(ctx, []string{"issuer", "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--tls-cert", certFile, "--tls-key", keyFile,
			"--station-key", vectors("station.pub")}, strings.NewReader(""), pw, &errb, issuerCommands(), testRoot)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	url := strings.TrimSpace(line[strings.Index(line, "https://"):])
	sum, size := sha256File(t, vectors("vector.esb"))
	golden, _ := os.ReadFile(vectors("vector.verify.golden"))
	id := strings.Fields(string(golden))[1] // "bundle <id>"
	b := exporter.BundleFile{ID: id, Path: vectors("vector.esb"), SHA256: sum, Size: size}
	// The vector station delivers with its key as client certificate; another station
	// is refused.
	stKey := vectorStationKey(t)
	cc, err := exporter.StationClientCertificate(stKey, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	oc, _ := exporter.StationClientCertificate(other, time.Now())
	if _, err := (&exporter.HTTPTarget{URL: url, ClientCert: oc, RootCAs: roots, Attempts: 1}).Deliver(ctx, b); exporter.Reason(err) != exporter.CodeUnregisteredClient {
		t.Fatalf("unregistered station: %v", err)
	}
	loc, err := (&exporter.HTTPTarget{URL: url, ClientCert: cc, RootCAs: roots}).Deliver(ctx, b)
	if err != nil || loc != url+"/bundles/"+b.ID {
		t.Fatalf("upload: %s %v", loc, err)
	}
	if got, _ := sha256File(t, filepath.Join(dir, b.ID+exporter.FileExt)); got != sum {
		t.Fatal("received bundle differs")
	}
	cancel()
	if c := <-code; c != 0 {
		t.Fatalf("serve exited %d", c)
	}
	if c, _, _ := runIssuer(t, "issuer", "serve", "--dir", dir, "--addr", "127.0.0.1:0", "--station-key", vectors("station.pub")); c != 2 {
		t.Errorf("serving without TLS: exit %d, want 2", c)
	}
}

// serverCert writes a self-signed server certificate for 127.0.0.1 and returns its files
// and a pool trusting it.
func serverCert(t *testing.T) (certFile, keyFile string, roots *x509.CertPool) {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "receiver"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(k)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600)
	c, _ := x509.ParseCertificate(der)
	roots = x509.NewCertPool()
	roots.AddCert(c)
	return certFile, keyFile, roots
}

// vectorStationKey reads the test-vector station's private key.
func vectorStationKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	b, err := os.ReadFile(vectors("station.key"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(b)
	if block == nil {
		t.Fatal("station.key: no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		return k.(*ecdsa.PrivateKey)
	}
	k, err := x509.ParseECPrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func sha256File(t *testing.T, path string) ([32]byte, int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b), int64(len(b))
}

// TestVerifyNegativeVectors: verify --json refuses every negative vector with the reason
// code the vector names (what the JavaScript verifier is compared against), and the
// message printed carries no control characters.
func TestVerifyNegativeVectors(t *testing.T) {
	idx, err := os.ReadFile(vectors("negative/expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want []struct{ File, Reason string }
	if err := json.Unmarshal(idx, &want); err != nil || len(want) == 0 {
		t.Fatalf("expected.json: %v", err)
	}
	keys := []string{"verify", "--json", "--issuer-key", vectors("issuer.key"), "--station-key", vectors("station.pub")}
	for _, v := range want {
		code, out, errs := runIssuer(t, append(keys, vectors("negative/"+v.File))...)
		var got struct {
			OK     bool   `json:"ok"`
			Reason string `json:"reason"`
		}
		if err := json.Unmarshal([]byte(out), &got); err != nil || code != 1 || got.OK || got.Reason != v.Reason {
			t.Errorf("%s: exit %d, %s, want reason %s", v.File, code, out, v.Reason)
		}
		if strings.ContainsAny(errs, "\x1b\x07") || !strings.HasPrefix(errs, "FAIL "+v.Reason+": ") {
			t.Errorf("%s: stderr %q", v.File, errs)
		}
	}
	code, out, _ := runIssuer(t, append(keys, vectors("vector.esb"))...)
	if code != 0 || !strings.Contains(out, `"reason":"ok"`) || !strings.Contains(out, `"format":2`) {
		t.Errorf("positive vector: exit %d %s", code, out)
	}
}
