package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enrollstation/capture"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb, Commands(), testRoot)
	return out.String(), errb.String(), code
}

func TestCameraList(t *testing.T) {
	out, errs, code := runCLI(t, "camera", "list", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var devs []map[string]any
	if err := json.Unmarshal([]byte(out), &devs); err != nil || devs == nil {
		t.Fatalf("not a JSON list: %v\n%s", err, out)
	}
	if out, _, code := runCLI(t, "camera", "list"); code != 0 || out == "" {
		t.Errorf("text list: exit %d, %q", code, out)
	}
}

func TestCameraTest(t *testing.T) {
	out, errs, code := runCLI(t, "camera", "test", "--source", "synthetic:320x240@30", "--seconds", "1", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errs, out)
	}
	var r cameraTestReport
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("bad JSON: %v\n%s", err, out)
	}
	if r.Source.Width != 320 || r.Stats.Delivered == 0 || r.Measured == 0 || r.Measures.MeanLuma == 0 || len(r.Verdict.Checks) == 0 || !r.Pass {
		t.Errorf("report %+v", r)
	}

	// --fast: the source is opened unpaced.
	out, errs, code = runCLI(t, "camera", "test", "--source", "synthetic:160x120@30", "--fast", "--seconds", "0.5", "--json")
	r = cameraTestReport{}
	if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Source.Paced || r.Stats.Delivered == 0 {
		t.Errorf("--fast: exit %d, %v, paced %v, delivered %d\n%s", code, err, r.Source.Paced, r.Stats.Delivered, errs)
	}

	// A profile's thresholds decide the verdict: an impossible sharpness fails.
	dir := t.TempDir()
	prof := filepath.Join(dir, "profile.json")
	os.WriteFile(prof, []byte(`{"name":"counter 1","source":"synthetic:160x120@30","controls":{},"thresholds":{"min_sharpness_norm":1e9}}`), 0o600)
	out, errs, code = runCLI(t, "camera", "test", "--profile", prof, "--seconds", "0.5")
	if code != 1 || !strings.Contains(out, "FAIL  sharpness") || !strings.Contains(out, "160x120") {
		t.Errorf("profile with impossible threshold: exit %d\n%s%s", code, out, errs)
	}
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`{"name":""}`), 0o600)

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"camera", "test", "--profile", bad}, 1, "bad camera profile"},
		{[]string{"camera", "test"}, 2, "--source is required"},
		{[]string{"camera", "test", "--source", "synthetic", "--seconds", "0"}, 2, "--seconds"},
		{[]string{"camera", "test", "--source", "synthetic", "--size", "big"}, 2, "--size"},
		{[]string{"camera", "test", "--source", "/dev/video97", "--seconds", "1"}, 1, "no such camera"},
	} {
		_, errs, code := runCLI(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want exit %d mentioning %q", tc.args, code, errs, tc.code, tc.want)
		}
	}
}

func TestPrintDevices(t *testing.T) {
	var b bytes.Buffer
	printDevices(&b, []capture.Device{
		{Path: "/dev/video0", Name: "Webcam", Driver: "uvcvideo", Bus: "usb-1",
			Formats:  []capture.Format{{FourCC: "MJPG", Description: "Motion-JPEG", Sizes: []capture.FrameSize{{Width: 1280, Height: 720, FPS: []float64{30, 15}}}}},
			Controls: []capture.ControlRange{{Field: "gain", Name: "Gain", Min: 0, Max: 255, Step: 1, Default: 32, Type: "int"}}},
		{Path: "/dev/video2", Name: "locked", Err: "permission denied"},
	})
	want := `/dev/video0  Webcam  (uvcvideo, usb-1)
    MJPG Motion-JPEG            1280x720@30
    control Gain                         int 0..255 step 1, default 32 [gain]
/dev/video2  locked
    error: permission denied
`
	if b.String() != want {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
	b.Reset()
	printDevices(&b, nil)
	if !strings.Contains(b.String(), "no cameras found") {
		t.Errorf("empty list: %q", b.String())
	}
}
