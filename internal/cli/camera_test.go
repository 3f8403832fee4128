package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func runCLI(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Main(context.Background(), args, strings.NewReader(""), &out, &errb, Commands(), nil)
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

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
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
