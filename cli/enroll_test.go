package cli

import (
	"bytes"
	"encoding/json"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enrollstation/biometrics"
	"enrollstation/enroll"
	"enrollstation/internal/testenv"
	"enrollstation/internal/testkit"
	"enrollstation/internal/videotest"
	"enrollstation/vault"
	"gocv.io/x/gocv"
)

// blurCopy writes an out-of-focus copy of a JPEG.
func blurCopy(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	m, err := biometrics.DecodeImage(b)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	gocv.GaussianBlur(m, &m, image.Point{}, 6, 6, gocv.BorderReplicate)
	out, err := biometrics.EncodeJPEG(m, 92)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "blurred.jpg")
	if err := os.WriteFile(p, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// enroll runs the real assessment: a passing photo is enrolled as pending, a failing one
// is refused unless forced with a reason, and the stored record carries the details file,
// the portrait, the template and the forced reason.
func TestEnroll(t *testing.T) {
	models := testenv.ModelsDir(t)
	run, data := clerkStation(t, models)
	rec, err := biometrics.NewRecognizer(models)
	if err != nil {
		t.Fatal(err)
	}
	good := videotest.Still(t, rec, t.TempDir(), testenv.Face(t, "sejeong.jpg"))
	rec.Close()
	details := testkit.ExampleIdentityFile()

	out, e, code := run("clara-password\n", "enroll", "--details", details, "--photo", good, "--as", "clara", "--json")
	if code != 0 {
		t.Fatalf("good photo: exit %d: %s", code, e)
	}
	var res enrollResult
	if err := json.Unmarshal([]byte(out), &res); err != nil || !res.Pass || res.Forced || res.ID == "" {
		t.Fatalf("result %s (%v)", out, err)
	}

	// The same subject out of focus fails: refused, then forced with a reason.
	blurred := blurCopy(t, good)
	if _, e, code := run("clara-password\n", "enroll", "--details", details, "--photo", blurred, "--as", "clara"); code != 1 || !strings.Contains(e, "fails the quality checks") || !strings.Contains(e, "Sharpness") {
		t.Fatalf("blurred photo: exit %d: %s", code, e)
	}
	if _, e, code := run("", "enroll", "--details", details, "--photo", blurred, "--as", "clara", "--force"); code != 2 || !strings.Contains(e, "--reason") {
		t.Fatalf("force without reason: exit %d: %s", code, e)
	}
	out, e, code = run("clara-password\n", "enroll", "--details", details, "--photo", blurred, "--as", "clara", "--force", "--reason", "migrated from the old register", "--json")
	if code != 0 {
		t.Fatalf("forced: exit %d: %s", code, e)
	}
	var forced enrollResult
	if err := json.Unmarshal([]byte(out), &forced); err != nil || !forced.Forced || forced.Pass {
		t.Fatalf("forced result %s (%v)", out, err)
	}
	// No face at all cannot be forced.
	if _, e, code := run("clara-password\n", "enroll", "--details", details, "--photo", filepath.Join(testenv.Root(), "assets", "icon.png"), "--as", "clara", "--force", "--reason", "x"); code != 1 || !strings.Contains(e, "no usable face") {
		t.Errorf("no face: exit %d: %s", code, e)
	}
	if _, e, code := run("wrong\n", "enroll", "--details", details, "--photo", good, "--as", "clara"); code == 0 || !strings.Contains(e, "wrong user name or password") {
		t.Errorf("wrong password: exit %d: %s", code, e)
	}

	err = withStation(testEnv(enroll.Config{Data: data, TPM: "swtpm"}), func(st *vault.Station) error {
		for _, r := range []enrollResult{res, forced} {
			got, err := st.Enrollment(r.ID)
			if err != nil {
				return err
			}
			if got.Status != vault.StatusPending || got.CapturedBy != "clara" || got.Demographics.Surname != "陈" ||
				got.Demographics.ApplicationNumber != r.ApplicationNumber || len(got.Portrait) == 0 || len(got.Template) == 0 {
				t.Errorf("%s stored as %+v", r.ID, got.Demographics)
			}
			// The photo is kept as the captured frame (downscaled) for the supervisor; an
			// imported photo names no camera profile.
			frame, err := st.EnrollmentFrame(r.ID)
			if err != nil {
				return err
			}
			fc, _, err := image.DecodeConfig(bytes.NewReader(frame))
			if err != nil || max(fc.Width, fc.Height) > enroll.FrameMaxSide || got.Capture.ProfileID != "" {
				t.Errorf("%s: frame %dx%d (%v), profile %q", r.ID, fc.Width, fc.Height, err, got.Capture.ProfileID)
			}
			if r.Forced != (got.Capture.Extra[enroll.ExtraForcedReason] == "migrated from the old register") {
				t.Errorf("%s: forced %v, extra %v", r.ID, r.Forced, got.Capture.Extra)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
