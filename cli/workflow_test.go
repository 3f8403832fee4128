package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"enrollstation/biometrics"
	"enrollstation/enroll"
	"enrollstation/exporter"
	"enrollstation/internal/testenv"
	"enrollstation/internal/testkit"
	"enrollstation/vault"
)

// submitForTest stores a pending enrollment as clerk through the vault, with a test photo
// as portrait and a template and quality report in the biometrics formats, so the
// scripted supervisor commands can be tested without running the assessment.
func submitForTest(t *testing.T, data, clerk, photo string, seed uint64) string {
	t.Helper()
	img, err := os.ReadFile(testenv.Face(t, photo))
	if err != nil {
		t.Fatal(err)
	}
	var d biometrics.Descriptor
	r := rand.New(rand.NewPCG(seed, 1))
	for i := range d {
		d[i] = float32(r.NormFloat64() * 0.1)
	}
	tmpl, err := biometrics.NewTemplate(d, 0).MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	q, _ := json.Marshal(map[string]any{"pass": true, "score": 88, "measures": []biometrics.Measure{
		{ID: biometrics.SingleFacePresent, Raw: 1, Score: 100, Pass: true, Mandatory: true},
	}})
	idn := testkit.ExampleIdentity(t)
	appNo, err := enroll.NewApplicationNumber(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var id string
	err = withStation(testEnv(enroll.Config{Data: data, TPM: "swtpm"}), func(st *vault.Station) error {
		s, err := st.Login(clerk, clerk+"-password")
		if err != nil {
			return err
		}
		e := &vault.Enrollment{Status: vault.StatusPending, Demographics: enroll.DetailsFromIdentity(idn).Demographics(appNo),
			Portrait: img, Template: tmpl, Quality: q, Capture: vault.CaptureMeta{Camera: "test", CapturedAt: time.Now().UTC()}}
		if err := st.SaveEnrollment(s, e); err != nil {
			return err
		}
		id = e.ID
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestScriptedApproveRejectExportVerify(t *testing.T) {
	data := t.TempDir()
	keys := t.TempDir()
	all := Commands()
	run := func(stdin string, args ...string) (string, string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(stdin), &out, &errb, all, testRoot)
		return out.String(), errb.String(), code
	}
	common := []string{"--data", data, "--tpm", "swtpm", "--password-stdin"}
	must := func(stdin string, args ...string) string {
		t.Helper()
		out, errs, code := run(stdin, append(args, common...)...)
		if code != 0 {
			t.Fatalf("%v: exit %d\n%s%s", args, code, out, errs)
		}
		return out
	}

	must("", "issuer", "keygen", "--out", keys)
	out := must("root-password\n", "station", "init", "--admin", "root", "--name", "Counter 1", "--issuer-key", filepath.Join(keys, "issuer.pub"))
	if !strings.Contains(out, "issuer key fingerprint:") {
		t.Fatalf("init output lacks the issuer fingerprint:\n%s", out)
	}
	must("root-password\nclara-password\n", "user", "add", "clara", "--roles", "clerk", "--as", "root")
	must("root-password\nsam-password\n", "user", "add", "sam", "--roles", "supervisor", "--as", "root")
	must("root-password\nsue-password\n", "user", "add", "sue", "--roles", "supervisor,clerk", "--as", "root")

	e1 := submitForTest(t, data, "clara", "bona.jpg", 1)
	e2 := submitForTest(t, data, "clara", "luda.jpg", 2)
	e3 := submitForTest(t, data, "sue", "joy.jpg", 3)

	if _, errs, code := run("sue-password\n", append([]string{"approve", e3, "--as", "sue"}, common...)...); code != 1 || !strings.Contains(errs, "they captured") {
		t.Fatalf("self-approval: exit %d %q", code, errs)
	}
	if _, errs, code := run("sam-password\n", append([]string{"reject", e2, "--reason", "because", "--as", "sam"}, common...)...); code != 2 || !strings.Contains(errs, "poor-photo") {
		t.Fatalf("reject with a free-text reason: exit %d %q", code, errs)
	}
	if _, errs, code := run("clara-password\n", append([]string{"approve", e1, "--as", "clara"}, common...)...); code != 1 || !strings.Contains(errs, "role") {
		t.Fatalf("approve by a clerk: exit %d %q", code, errs)
	}
	must("sam-password\n", "reject", e2, "--reason", "poor-photo", "--as", "sam")
	if out := must("sam-password\n", "approve", e1, e3, "--as", "sam"); strings.Count(out, "approved") != 2 {
		t.Fatalf("approve output: %q", out)
	}
	batch := strings.TrimSpace(must("sam-password\n", "batch", "close", "--as", "sam"))
	if batch == "" || strings.Contains(batch, "\n") {
		t.Fatalf("batch close printed %q", batch)
	}
	usb := t.TempDir()
	loc := strings.TrimSpace(must("sam-password\n", "export", "--batch", batch, "--to", usb, "--as", "sam"))
	if filepath.Dir(loc) != usb || !strings.HasSuffix(loc, exporter.FileExt) {
		t.Fatalf("export printed %q", loc)
	}
	// Re-running the export is harmless and names the same bundle.
	if again := strings.TrimSpace(must("sam-password\n", "export", "--batch", batch, "--to", usb, "--as", "sam")); again != loc {
		t.Fatalf("re-export printed %q, want %q", again, loc)
	}
	if out := must("", "batch", "list", "--json"); !strings.Contains(out, `"state": "confirmed"`) {
		t.Fatalf("batch list: %s", out)
	}

	stationPEM := filepath.Join(keys, "station.pem")
	must("", "station", "pubkey", "--out", stationPEM)
	out, errs, code := run("", "verify", "--issuer-key", filepath.Join(keys, "issuer.key"), "--station-key", stationPEM, loc)
	if code != 0 {
		t.Fatalf("verify: exit %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, e1) || !strings.Contains(out, e3) || strings.Contains(out, e2) {
		t.Fatalf("verify report does not list exactly the approved records:\n%s", out)
	}

	// The issuer's acknowledgement, imported, purges the biometrics of the record it
	// accepted; the one it refused keeps them.
	ackFile := filepath.Join(keys, "ack.json")
	if out, errs, code := run("", "issuer", "ack", "--issuer-key", filepath.Join(keys, "issuer.key"), "--station-key", stationPEM, "--reject", e3+"=other:photo unusable", "--out", ackFile, loc); code != 0 {
		t.Fatalf("issuer ack: exit %d: %s%s", code, out, errs)
	}
	if out := must("sam-password\n", "batch", "ack", ackFile, "--as", "sam"); !strings.Contains(out, "1 enrollment(s) purged") || !strings.Contains(out, e3+" (photo unusable): biometrics kept") {
		t.Fatalf("batch ack: %q", out)
	}
	if out := must("", "batch", "list"); !strings.Contains(out, "issuer: 1 accepted, 1 refused") {
		t.Fatalf("batch list after ack: %q", out)
	}
	if out := must("", "batch", "list", "--json"); !strings.Contains(out, `"issuer_refused": 1`) {
		t.Fatalf("batch list --json after ack: %q", out)
	}
	must("", "audit", "verify")

	// An administrator replaces the issuer key; junk is refused.
	junk := filepath.Join(keys, "junk.pub")
	os.WriteFile(junk, []byte("not a key"), 0o644)
	if _, _, code := run("root-password\n", append([]string{"station", "set-issuer-key", junk, "--as", "root"}, common...)...); code != 1 {
		t.Fatalf("junk issuer key: exit %d", code)
	}
	if out := must("root-password\n", "station", "set-issuer-key", filepath.Join(keys, "issuer.pub"), "--as", "root"); !strings.Contains(out, "fingerprint") {
		t.Fatalf("set-issuer-key: %q", out)
	}
}
