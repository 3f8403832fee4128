package cli

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"
	"testing"

	"enrollstation/biometrics"
	"enrollstation/enroll"
	"enrollstation/internal/testenv"
	"enrollstation/internal/testkit"
	"enrollstation/internal/videotest"
	"enrollstation/vault"
)

// An administrator tightens a quality threshold with `settings set`; `enroll` of a photo
// that passes the defaults but fails the tightened limit is then refused, exactly as the
// capture screen's assessment (enroll.StationCapture) refuses it. Bad names, values out
// of range and non-administrators are refused with clear errors; the change is audited.
func TestSettingsQualityAppliesToEnroll(t *testing.T) {
	models := testenv.ModelsDir(t)
	run, data := clerkStation(t, models)
	rec, err := biometrics.NewRecognizer(models)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	photo := videotest.Still(t, rec, t.TempDir(), testenv.Face(t, "sejeong.jpg"))
	img, err := os.ReadFile(photo)
	if err != nil {
		t.Fatal(err)
	}
	station := biometrics.DefaultConfig()
	station.Thresholds = enroll.DemoThresholds() // clerkStation's pose limits
	def, err := biometrics.NewAssessor(rec, station).AssessBytes(img)
	if err != nil || !def.Pass {
		t.Fatalf("the photo must pass the station's limits: %+v %v", def, err)
	}
	ied := math.NaN()
	for _, m := range def.Measures {
		if m.ID == biometrics.InterEyeDistance {
			ied = m.Raw
		}
	}
	if math.IsNaN(ied) {
		t.Fatal("no inter-eye distance in the report")
	}
	tight := fmt.Sprintf("MinInterEye=%.0f", math.Ceil(ied)+20)

	for _, c := range []struct {
		stdin string
		args  []string
		code  int
		want  string
	}{
		{"", []string{"settings", "set", "--as", "root"}, 2, "--quality"},
		{"", []string{"settings", "set", "--quality", "MinInterEy=120", "--as", "root"}, 2, "not a quality threshold"},
		{"", []string{"settings", "set", "--quality", "MinInterEye=lots", "--as", "root"}, 2, "must be a number from 30 to 1000"},
		{"root-password\n", []string{"settings", "set", "--quality", "MaxYaw=500", "--as", "root"}, 2, "out of range"},
		{"root-password\n", []string{"settings", "set", "--quality", "MinLuminance=0.9", "--as", "root"}, 2, "above MaxLuminance"},
		{"clara-password\n", []string{"settings", "set", "--quality", tight, "--as", "clara"}, 1, "not an administrator"},
	} {
		if _, e, code := run(c.stdin, c.args...); code != c.code || !strings.Contains(e, c.want) {
			t.Errorf("%v: exit %d, want %d with %q: %s", c.args, code, c.code, c.want, e)
		}
	}
	// Nothing of the refused changes was stored: the photo still enrols.
	if _, e, code := run("clara-password\n", "enroll", "--details", enrollDetails(), "--photo", photo, "--as", "clara"); code != 0 {
		t.Fatalf("before tightening: exit %d: %s", code, e)
	}

	if out, e, code := run("root-password\n", "settings", "set", "--quality", tight, "--as", "root"); code != 0 || !strings.Contains(out, "MinInterEye = ") {
		t.Fatalf("settings set: exit %d: %s %s", code, out, e)
	}
	if out, e, code := run("root-password\n", "settings", "show", "--as", "root"); code != 0 || !strings.Contains(out, "MinInterEye") || !strings.Contains(out, "set by the administrator") {
		t.Fatalf("settings show: exit %d: %s %s", code, out, e)
	}
	_, e, code := run("clara-password\n", "enroll", "--details", enrollDetails(), "--photo", photo, "--as", "clara")
	if code != 1 || !strings.Contains(e, "fails the quality checks") || !strings.Contains(e, string(biometrics.InterEyeDistance)) {
		t.Fatalf("tightened threshold: enroll exit %d: %s", code, e)
	}

	// The capture screen's assessment, from the same settings, refuses the same photo
	// for the same measure.
	err = withStation(testEnv(enroll.Config{Data: data, TPM: "swtpm"}), func(st *vault.Station) error {
		set, err := enroll.StationCapture(st, "synthetic", enroll.DefaultCameraOptions("synthetic"))
		if err != nil {
			return err
		}
		for name, cfg := range map[string]biometrics.Config{"final": set.Final, "live": set.Live} {
			rep, err := biometrics.NewAssessor(rec, cfg).AssessBytes(img)
			if err != nil {
				return err
			}
			if rep.Pass || !slices.Contains(rep.Failed, biometrics.InterEyeDistance) {
				t.Errorf("capture screen's %s assessment: pass %v, failed %v", name, rep.Pass, rep.Failed)
			}
		}
		log, err := enroll.AuditLog(st)
		if err != nil {
			return err
		}
		if !slices.ContainsFunc(log, func(e vault.AuditEntry) bool {
			return e.Actor == "root" && e.Action == "station.quality" && strings.Contains(e.Detail, tight)
		}) {
			t.Errorf("no audit entry for the change")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// Back to the default: the photo enrols again.
	if _, e, code := run("root-password\n", "settings", "set", "--quality", "MinInterEye=default", "--as", "root"); code != 0 {
		t.Fatalf("reset: %s", e)
	}
	if _, e, code := run("clara-password\n", "enroll", "--details", enrollDetails(), "--photo", photo, "--as", "clara"); code != 0 {
		t.Fatalf("after reset: exit %d: %s", code, e)
	}
}

func enrollDetails() string { return testkit.ExampleIdentityFile() }
