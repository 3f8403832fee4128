// Package testenv finds what scripts/setup installs (models, test photos, demo video) for
// tests, and fails a test with the command that fixes it when something is missing.
package testenv

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the repository root (the directory holding go.mod).
func Root() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// ModelsDir returns the dlib models directory, failing the test if it is not set up.
func ModelsDir(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(Root(), "models")
	if _, err := os.Stat(filepath.Join(dir, "dlib_face_recognition_resnet_model_v1.dat")); err != nil {
		t.Fatalf("dlib models missing in %s: run scripts/setup", dir)
	}
	return dir
}

// FacesDir returns the shared test photos directory (../shared/testdata/faces, or the
// testdata/faces link that scripts/setup makes), failing the test if neither exists.
func FacesDir(t testing.TB) string {
	t.Helper()
	for _, dir := range []string{
		filepath.Join(Root(), "testdata", "faces"),
		filepath.Join(Root(), "..", "shared", "testdata", "faces"),
	} {
		if _, err := os.Stat(filepath.Join(dir, "bona.jpg")); err == nil {
			return dir
		}
	}
	t.Fatalf("test photos missing: expected ../shared/testdata/faces; run scripts/setup")
	return ""
}

// Face returns the path of one test photo by file name, e.g. "bona.jpg".
func Face(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(FacesDir(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test photo %s missing: %v", name, err)
	}
	return p
}
