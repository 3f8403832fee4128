package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enrollstation/biometrics"
	"enrollstation/internal/testenv"
)

func TestAssessCommand(t *testing.T) {
	models := testenv.ModelsDir(t)
	bona := testenv.Face(t, "bona.jpg")
	junk := filepath.Join(t.TempDir(), "junk.jpg")
	if err := os.WriteFile(junk, []byte("not an image"), 0o644); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	out, errs, code := runCLI(t, "assess", "--models", models, "--json", "--portraits", dir, bona, junk)
	if code != 1 {
		t.Fatalf("exit %d (want 1: junk fails): %s", code, errs)
	}
	var res []struct {
		File     string             `json:"file"`
		Error    string             `json:"error"`
		Report   *biometrics.Report `json:"report"`
		Portrait string             `json:"portrait"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res) != 2 {
		t.Fatalf("bad JSON (%v):\n%s", err, out)
	}
	if r := res[0].Report; res[0].Error != "" || r == nil || len(r.Faces) != 1 || len(r.Measures) < 15 || r.Guidance.Key == "" {
		t.Errorf("bona.jpg: %+v", res[0])
	}
	if st, err := os.Stat(res[0].Portrait); err != nil || st.Size() < 1000 {
		t.Errorf("portrait %q: %v", res[0].Portrait, err)
	}
	if res[1].Report != nil || !strings.Contains(res[1].Error, "not a JPEG or PNG") {
		t.Errorf("junk: %+v", res[1])
	}

	out, _, code = runCLI(t, "assess", "--models", models, bona)
	if !strings.Contains(out, "InterEyeDistance") || !strings.Contains(out, "guidance:") || code != 1 {
		t.Errorf("text report (exit %d):\n%s", code, out)
	}
	if _, _, code := runCLI(t, "assess", "--models", models); code != 2 {
		t.Errorf("no image: exit %d, want 2", code)
	}
	_, errs, code = runCLI(t, "assess", "--models", t.TempDir(), bona)
	if code != 1 || !strings.Contains(errs, "scripts/setup") {
		t.Errorf("missing models: exit %d, %q", code, errs)
	}
}

func TestCompareCommand(t *testing.T) {
	models := testenv.ModelsDir(t)
	out, errs, code := runCLI(t, "compare", "--models", models, "--json", testenv.Face(t, "bona.jpg"), testenv.Face(t, "bona3.jpg"))
	var c biometrics.Comparison
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatalf("bad JSON (%v): %s %s", err, out, errs)
	}
	if code != 0 || !c.Match || c.Distance <= 0 || c.Distance > c.Threshold {
		t.Errorf("bona vs bona3: exit %d, %+v", code, c)
	}
	var names struct{ A, B string }
	if json.Unmarshal([]byte(out), &names); !strings.HasSuffix(names.A, "bona.jpg") || !strings.HasSuffix(names.B, "bona3.jpg") {
		t.Errorf("compare JSON names %+v", names)
	}
	out, _, code = runCLI(t, "compare", "--models", models, testenv.Face(t, "bona.jpg"), testenv.Face(t, "luda.jpg"))
	if code != 1 || !strings.Contains(out, "different people") {
		t.Errorf("bona vs luda: exit %d, %s", code, out)
	}
	if _, _, code := runCLI(t, "compare", "--models", models, testenv.Face(t, "bona.jpg")); code != 2 {
		t.Errorf("one image: exit %d, want 2", code)
	}
}
