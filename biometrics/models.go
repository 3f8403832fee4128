package biometrics

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// models.sha256 pins the dlib model files; scripts/setup checks the same file.
//
//go:embed models.sha256
var modelsSHA256 []byte

// Model files the Recognizer loads from the models directory.
const (
	ShapePredictorFile = "shape_predictor_5_face_landmarks.dat"
	ResNetFile         = "dlib_face_recognition_resnet_model_v1.dat"
	CNNDetectorFile    = "mmod_human_face_detector.dat"
	// ShapePredictor68File is dlib's 68-point (iBUG 300-W) predictor, loaded through
	// our own binding; see docs/quality.md for its training-data licence caveat.
	ShapePredictor68File = "shape_predictor_68_face_landmarks.dat"
)

// ModelID names the descriptor model; it is stored in every template so that templates
// from another model are never compared with ours. It names the network, not the
// alignment: templates made before issue 13 (go-face: HOG box, 5-point alignment) and
// after (our detection, 68-point alignment) are the same network on dlib's same chip
// geometry and stay comparable (docs/quality.md measures it), so it did not change.
const ModelID = "dlib_face_recognition_resnet_model_v1"

var (
	// ErrModelsMissing means a model file is absent from the models directory.
	ErrModelsMissing = errors.New("dlib model files missing")
	// ErrModelHash means a model file is present but is not the pinned version.
	ErrModelHash = errors.New("dlib model file has the wrong SHA-256")
)

// ModelError says which model file is wrong and how to fix it. It wraps ErrModelsMissing
// or ErrModelHash.
type ModelError struct {
	Dir  string
	File string
	Err  error  // ErrModelsMissing or ErrModelHash
	Got  string // hex SHA-256 found, for ErrModelHash
}

func (e *ModelError) Error() string {
	if errors.Is(e.Err, ErrModelHash) {
		return fmt.Sprintf("biometrics: model %s in %s has SHA-256 %s, not the pinned one: run scripts/setup (or pass --models DIR)", e.File, e.Dir, e.Got)
	}
	return fmt.Sprintf("biometrics: model %s missing from %s: run scripts/setup (or pass --models DIR)", e.File, e.Dir)
}

func (e *ModelError) Unwrap() error { return e.Err }

// ModelFiles lists every model file the Recognizer loads.
func ModelFiles() []string {
	return []string{ShapePredictorFile, ResNetFile, CNNDetectorFile, ShapePredictor68File}
}

// PinnedModels returns the pinned SHA-256 (hex) of each model file, by file name.
func PinnedModels() map[string]string {
	m := make(map[string]string)
	sc := bufio.NewScanner(bytes.NewReader(modelsSHA256))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 {
			m[strings.TrimPrefix(f[1], "*")] = f[0]
		}
	}
	return m
}

// VerifyModels checks that every pinned model file is in dir with the pinned SHA-256.
// The error is a *ModelError wrapping ErrModelsMissing or ErrModelHash.
func VerifyModels(dir string) error {
	for _, name := range ModelFiles() {
		want, ok := PinnedModels()[name]
		if !ok {
			return fmt.Errorf("biometrics: no pinned hash for %s in models.sha256", name)
		}
		got, err := fileSHA256(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			return &ModelError{Dir: dir, File: name, Err: ErrModelsMissing}
		}
		if err != nil {
			return fmt.Errorf("biometrics: reading model %s: %w", name, err)
		}
		if got != want {
			return &ModelError{Dir: dir, File: name, Err: ErrModelHash, Got: got}
		}
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
