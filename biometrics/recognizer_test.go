package biometrics

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"enrollstation/internal/testenv"
	"gocv.io/x/gocv"
)

func TestVerifyModels(t *testing.T) {
	dir := testenv.ModelsDir(t)
	if err := VerifyModels(dir); err != nil {
		t.Fatalf("VerifyModels(%s): %v", dir, err)
	}

	empty := t.TempDir()
	err := VerifyModels(empty)
	var me *ModelError
	if !errors.Is(err, ErrModelsMissing) || !errors.As(err, &me) {
		t.Fatalf("empty dir: got %v, want ErrModelsMissing", err)
	}

	bad := t.TempDir()
	for _, f := range ModelFiles() {
		if err := os.Symlink(filepath.Join(dir, f), filepath.Join(bad, f)); err != nil {
			t.Fatal(err)
		}
	}
	os.Remove(filepath.Join(bad, CNNDetectorFile))
	if err := os.WriteFile(filepath.Join(bad, CNNDetectorFile), []byte("not a model"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = VerifyModels(bad)
	if !errors.Is(err, ErrModelHash) || !errors.As(err, &me) || me.File != CNNDetectorFile {
		t.Fatalf("tampered model: got %v, want ErrModelHash for %s", err, CNNDetectorFile)
	}
	if _, err := NewRecognizer(bad); !errors.Is(err, ErrModelHash) {
		t.Fatalf("NewRecognizer on tampered models: got %v, want ErrModelHash", err)
	}
	if len(PinnedModels()) != len(ModelFiles()) {
		t.Fatalf("PinnedModels: %v", PinnedModels())
	}
}

// The acceptance test of issue 2: HOG detection at full resolution finds exactly one
// face in bona.jpg and all ten in the group photo.
func TestRecognizeCounts(t *testing.T) {
	rec := recognizer(t)
	for _, tc := range []struct {
		name string
		want int
	}{
		{"bona.jpg", 1},
		{"pristin.jpg", 10},
	} {
		faces, err := rec.Recognize(readFace(t, tc.name))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(faces) != tc.want {
			t.Errorf("%s: %d faces, want %d", tc.name, len(faces), tc.want)
		}
		for i, f := range faces {
			if ied := f.InterEye(); ied < 20 {
				t.Errorf("%s face %d: inter-eye %.1f px, implausible", tc.name, i, ied)
			}
			if f.Descriptor == (Descriptor{}) {
				t.Errorf("%s face %d: zero descriptor", tc.name, i)
			}
		}
	}
}

// Grey and PNG inputs are converted (go-face once read only 3-channel JPEG), not refused.
func TestRecognizeConvertsInputs(t *testing.T) {
	rec := recognizer(t)
	m, err := DecodeImage(readFace(t, "bona.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(m, &grey, gocv.ColorBGRToGray)
	greyJPEG, err := EncodeJPEG(grey, 90)
	if err != nil {
		t.Fatal(err)
	}
	colourPNG, err := EncodePNG(m)
	if err != nil {
		t.Fatal(err)
	}
	greyPNG, err := EncodePNG(grey)
	if err != nil {
		t.Fatal(err)
	}
	for name, img := range map[string][]byte{"grey JPEG": greyJPEG, "colour PNG": colourPNG, "grey PNG": greyPNG} {
		faces, err := rec.Recognize(img)
		if err != nil || len(faces) != 1 {
			t.Errorf("%s: %d faces, err %v; want 1 face", name, len(faces), err)
		}
	}
	faces, err := rec.RecognizeMat(grey)
	if err != nil || len(faces) != 1 {
		t.Errorf("grey Mat: %d faces, err %v; want 1 face", len(faces), err)
	}
}

func TestRecognizerClosed(t *testing.T) {
	rec, err := NewRecognizer(testenv.ModelsDir(t))
	if err != nil {
		t.Fatal(err)
	}
	rec.Close()
	rec.Close()
	if _, err := rec.Recognize(readFace(t, "bona.jpg")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: got %v, want ErrClosed", err)
	}
	m := decodeFace(t, "bona.jpg")
	defer m.Close()
	if _, err := rec.describe(m, Face{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("describe after Close: got %v, want ErrClosed", err)
	}
}

// The descriptor needs dlib's 5 or 68 landmarks and a sane jitter; anything else is an
// error, not a crash or a zero descriptor.
func TestDescribeRefusesBadShapes(t *testing.T) {
	rec := recognizer(t)
	m := decodeFace(t, "bona.jpg")
	defer m.Close()
	pts := [][2]float64{{400, 300}, {450, 300}, {420, 350}}
	if _, err := rec.describePoints(m, pts, 0, nil); err == nil {
		t.Error("3 landmarks: no error")
	}
	five := make([][2]float64, 5)
	if _, err := rec.describePoints(m, five, 256, nil); err == nil {
		t.Error("jitter 256: no error")
	}
	if _, err := rec.describePoints(m, five, 0, make([]byte, 10)); err == nil {
		t.Error("short chip buffer: no error")
	}
	if _, err := NewRecognizerConfig(RecognizerConfig{ModelsDir: testenv.ModelsDir(t), Jitter: -1}); err == nil {
		t.Error("jitter -1: no error")
	}
}

// Jitter averages jittered face chips: the template records it and stays close to the
// plain descriptor of the same face.
func TestRecognizerJitter(t *testing.T) {
	rec, err := NewRecognizerConfig(RecognizerConfig{ModelsDir: testenv.ModelsDir(t), Jitter: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	m := decodeFace(t, "rena.jpg")
	defer m.Close()
	ja := NewAssessor(rec, DefaultConfig())
	defer ja.Close()
	jit := mustAssess(t, ja, m)
	plain := mustAssess(t, assessor(t), m)
	if jit.Template.Jitter != 3 || plain.Template.Jitter != 0 {
		t.Errorf("template jitter %d and %d, want 3 and 0", jit.Template.Jitter, plain.Template.Jitter)
	}
	d := jit.Template.Descriptor.Distance(plain.Template.Descriptor)
	if d == 0 || d > 0.15 {
		t.Errorf("jittered descriptor %.4f from the plain one, want small but non-zero", d)
	}
}
