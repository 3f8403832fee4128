package selftest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"enrollstation/enroll"
	"enrollstation/internal/testenv"
	"enrollstation/internal/testkit"
	"enrollstation/vault"
)

func TestRunReportsEachCheck(t *testing.T) {
	var reported []string
	rs := Run(context.Background(), []Check{
		{"good", func(context.Context) (Text, error) { return Textf("fine"), nil }},
		{"wrapped", func(context.Context) (Text, error) {
			return Text{}, fmt.Errorf("outer: %w", Hint(errors.New("inner"), "do the thing"))
		}},
		{"crash", func(context.Context) (Text, error) { panic("boom") }},
	}, func(r Result) { reported = append(reported, r.Name) })

	if got := strings.Join(reported, ","); got != "good,wrapped,crash" {
		t.Fatalf("reported %s, want every check in order", got)
	}
	if !rs[0].OK || rs[0].Detail != "fine" {
		t.Errorf("good check = %+v", rs[0])
	}
	if rs[1].OK || rs[1].Hint != "do the thing" || rs[1].Detail != "outer: inner" {
		t.Errorf("wrapped hint lost: %+v", rs[1])
	}
	if rs[2].OK || !strings.Contains(rs[2].Detail, "boom") {
		t.Errorf("crashing check = %+v, want a failure naming the panic", rs[2])
	}
	if Passed(rs) {
		t.Error("Passed = true with failures")
	}
	if Passed(nil) {
		t.Error("Passed = true with no checks run")
	}
}

func TestRunStopsWhenCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	rs := Run(ctx, []Check{{"x", func(context.Context) (Text, error) { ran = true; return Text{}, nil }}}, nil)
	if ran || rs[0].OK {
		t.Fatalf("check ran after cancel: %+v", rs[0])
	}
}

// TestStationChecksFailClearly points the real checks at things that are wrong and wants
// a failure with a hint for each, not a crash or a pass.
func TestStationChecksFailClearly(t *testing.T) {
	dir := t.TempDir()
	badModels := filepath.Join(dir, "models")
	if err := os.MkdirAll(badModels, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(badModels, "shape_predictor_5_face_landmarks.dat"), []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "file-not-dir")
	if err := os.WriteFile(readOnly, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := enroll.Config{Data: readOnly, TPM: "127.0.0.1:1", Models: badModels, Camera: filepath.Join(dir, "missing.mp4")}
	rs := Run(context.Background(), StationChecks(cfg, testkit.Opener{Data: cfg.Data, TPM: cfg.TPM}.OpenTPM, true), nil)
	want := map[string]bool{"models": false, "face engine": false, "opencv": true, "blas": true, "camera": false, "tpm": false, "data dir": false, "store": false}
	for _, r := range rs {
		if r.OK != want[r.Name] {
			t.Errorf("%s: ok=%v, want %v (%s)", r.Name, r.OK, want[r.Name], r.Detail)
		}
		if !r.OK && r.Hint == "" {
			t.Errorf("%s failed without a hint: %s", r.Name, r.Detail)
		}
		// The structured form (the screen translates it) says the same as the English.
		if r.DetailText.String() != r.Detail || r.HintText.String() != r.Hint {
			t.Errorf("%s: structured %q / %q, English %q / %q", r.Name, r.DetailText, r.HintText, r.Detail, r.Hint)
		}
	}
	// Missing models and a missing camera are worded by selftest (translatable), not
	// passed on as another package's English error.
	for _, c := range []struct{ name, format string }{{"models", "the face model %s "}, {"camera", "the camera %s does not exist"}, {"face engine", "the known face photo %s is missing"}} {
		for _, r := range rs {
			if r.Name == c.name && !strings.HasPrefix(r.DetailText.Format, c.format) {
				t.Errorf("%s: detail format %q, want %q", r.Name, r.DetailText.Format, c.format)
			}
		}
	}
}

// A missing TPM is worded by selftest and still is vault.ErrNoTPM.
func TestTPMCheckWithoutTPM(t *testing.T) {
	_, err := checkTPM("/dev/tpmrm0", func() (*vault.TPM, error) { return nil, fmt.Errorf("open: %w", vault.ErrNoTPM) }, true)
	var te *TextError
	if !errors.Is(err, vault.ErrNoTPM) || !errors.As(err, &te) || te.Text.Format != "no TPM was found (%s)" {
		t.Fatalf("no TPM: %v", err)
	}
	var h *HintError
	if !errors.As(err, &h) || !strings.Contains(h.Hint, "--tpm swtpm") {
		t.Fatalf("no TPM: hint %v", err)
	}
}

// The data dir check fails, with a hint, when the disk is below the level at which the
// station stops taking enrollments, and says how much is free otherwise.
func TestDataDirCheckReportsFreeSpace(t *testing.T) {
	disk := testenv.SmallDisk(t, 400)
	detail, err := checkDataDir(disk)
	if err != nil || !strings.Contains(detail.String(), "GB free") {
		t.Fatalf("with 400 MB free: %q, %v", detail, err)
	}
	testenv.FillDisk(t, disk, 100<<20)
	_, err = checkDataDir(disk)
	var h *HintError
	if !errors.As(err, &h) || !strings.Contains(err.Error(), "stops taking enrollments") || !strings.Contains(h.Hint, "export batches") {
		t.Fatalf("with 100 MB free: %v", err)
	}
}
