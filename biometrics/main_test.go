package biometrics

import (
	"os"
	"sync"
	"testing"

	"enrollstation/internal/testenv"
)

// One recognizer per test binary: loading the models takes most of a second.
var shared struct {
	once sync.Once
	rec  *Recognizer
	err  error
}

func recognizer(t testing.TB) *Recognizer {
	t.Helper()
	dir := testenv.ModelsDir(t)
	shared.once.Do(func() { shared.rec, shared.err = NewRecognizer(dir) })
	if shared.err != nil {
		t.Fatalf("NewRecognizer: %v", shared.err)
	}
	return shared.rec
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.rec != nil {
		shared.rec.Close()
	}
	os.Exit(code)
}

func readFace(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(testenv.Face(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
