package enroll

import (
	"os"
	"path/filepath"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/vault"
)

// Config is the station's configuration, built once in main from the command line and
// handed to the window, the commands and the diagnostics. It is the one definition:
// front ends embed it rather than copy its fields.
type Config struct {
	Data   string // station data directory
	TPM    string // auto | /dev/tpmrm0 | swtpm | HOST:PORT
	Models string // dlib models directory
	Camera string // camera source (device, file, gst:PIPELINE, synthetic); empty: any V4L2 device
}

// Opener opens what the station runs on. main (the composition root) provides the one
// implementation that touches the TPM and the disk; tests provide their own. Each method
// returns an error (never a half-open value) when the resource cannot be opened.
type Opener interface {
	// OpenTPM connects to the configured TPM; the caller closes it.
	OpenTPM() (*vault.TPM, error)
	// OpenStation opens the provisioned station in the data directory with tp.
	OpenStation(tp *vault.TPM) (*vault.Station, error)
	// InitStation creates a new station in the data directory with tp (keys, store,
	// first administrator); it refuses a directory that already holds one.
	InitStation(tp *vault.TPM, c vault.Config, o vault.InitOptions) (*vault.Station, error)
	// LoadRecognizer loads the face recognizer (go-face and the dlib binding) from the models directory (about a
	// second); the caller closes it.
	LoadRecognizer() (*biometrics.Recognizer, error)
}

// DemoCamera is the first V4L2 capture device when one exists, else the demo video
// that scripts/setup makes (testdata/demo.mp4 beside the binary or in the working
// directory), else the synthetic source.
func DemoCamera() string {
	if devs, _ := capture.ListDevices(); len(devs) > 0 && devs[0].Err == "" {
		return devs[0].Path
	}
	var dirs []string
	if exe, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(exe))
	}
	var cands []string
	for _, dir := range append(dirs, ".") {
		cands = append(cands, filepath.Join(dir, "testdata", "demo.mp4"))
	}
	// The Debian package (scripts/package) installs it under /usr/share/enrollstation.
	for _, p := range append(cands, "/usr/share/enrollstation/demo.mp4") {
		if st, err := os.Stat(p); err == nil && st.Size() > 0 {
			if abs, err := filepath.Abs(p); err == nil {
				return abs
			}
		}
	}
	return "synthetic"
}
