package selftest

import (
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"gocv.io/x/gocv"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/enroll"
	"enrollstation/internal/blas"
	"enrollstation/vault"
)

// TPMOpener returns the TPM to check: the command line opens a fresh connection (and
// the check closes it); the window lends the one it keeps open (a running swtpm holds its
// state directory's lock).
type TPMOpener func() (*vault.TPM, error)

// SelftestPhoto is the known single-face photo scripts/setup puts in the models folder,
// used to prove that face detection works on this machine.
const SelftestPhoto = "selftest-face.jpg"

// StationChecks returns the station's checks in the order they are worth reading.
// openTPM gives the TPM; closeTPM says whether the check closes it afterwards.
func StationChecks(cfg enroll.Config, openTPM TPMOpener, closeTPM bool) []Check {
	return []Check{
		{"models", func(context.Context) (Text, error) { return checkModels(cfg.Models) }},
		{"face engine", func(context.Context) (Text, error) { return checkFaceEngine(cfg.Models) }},
		{"opencv", func(context.Context) (Text, error) { return checkOpenCV() }},
		{"blas", func(context.Context) (Text, error) { return checkBLAS(blas.Probe()) }},
		{"camera", func(ctx context.Context) (Text, error) { return checkCamera(ctx, cfg.Camera) }},
		{"tpm", func(context.Context) (Text, error) { return checkTPM(cfg.TPM, openTPM, closeTPM) }},
		{"data dir", func(context.Context) (Text, error) { return checkDataDir(cfg.Data) }},
		{"store", func(context.Context) (Text, error) { return checkStore(cfg.Data) }},
	}
}

func checkModels(dir string) (Text, error) {
	if err := biometrics.VerifyModels(dir); err != nil {
		var me *biometrics.ModelError
		switch {
		case errors.As(err, &me) && errors.Is(err, biometrics.ErrModelsMissing):
			err = because(err, "the face model %s is missing in %s", me.File, me.Dir)
		case errors.As(err, &me) && errors.Is(err, biometrics.ErrModelHash):
			err = because(err, "the face model %s in %s is damaged or not the expected version", me.File, me.Dir)
		}
		return Text{}, Hint(err, "run scripts/setup, or pass --models DIR pointing at the verified dlib models")
	}
	return Textf("%d dlib models verified in %s", len(biometrics.PinnedModels()), dir), nil
}

func checkFaceEngine(models string) (Text, error) {
	photo := filepath.Join(models, SelftestPhoto)
	img, err := os.ReadFile(photo)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			err = because(err, "the known face photo %s is missing", photo)
		} else {
			err = Errorf("known face photo missing: %w", err)
		}
		return Text{}, Hint(err, "run scripts/setup (it installs %s beside the models)", SelftestPhoto)
	}
	rec, err := biometrics.NewRecognizer(models)
	if err != nil {
		return Text{}, Hint(err, "run scripts/setup; if it persists the dlib library may be broken: reinstall libdlib-dev")
	}
	defer rec.Close()
	start := time.Now()
	faces, err := rec.Recognize(img)
	if err != nil {
		return Text{}, Hint(Errorf("recognizing %s: %w", SelftestPhoto, err), "run scripts/setup to restore the photo")
	}
	if len(faces) != 1 {
		return Text{}, Hint(Errorf("found %d faces in %s, want 1", len(faces), SelftestPhoto), "run scripts/setup to restore the photo and models")
	}
	return Textf("go-face found the face in %s (inter-eye %.0f px) in %v", SelftestPhoto, faces[0].InterEye(), time.Since(start).Round(time.Millisecond)), nil
}

func checkOpenCV() (Text, error) {
	v := capture.OpenCVVersion()
	if !strings.HasPrefix(v, "4.") {
		return Text{}, Hint(Errorf("OpenCV %s: this build needs OpenCV 4.x", v), "install libopencv-dev from Debian 12 (OpenCV 4.6)")
	}
	if gv := moduleVersion("gocv.io/x/gocv"); gv != "" {
		return Textf("OpenCV %s, gocv %s", v, gv), nil
	}
	return Textf("OpenCV %s, gocv (version not recorded in this build)", v), nil
}

// checkBLAS says whether dlib's BLAS runs on one thread, as internal/blas sets it at
// start: more OpenBLAS threads spin-wait between dlib's small products and cost up to
// half a core of a 2-core counter PC (issue 16), so that is a warning with the fix.
func checkBLAS(in blas.Info) (Text, error) {
	switch {
	case in.OpenBLAS && in.Threads == 1:
		if in.Config != "" {
			return Textf("BLAS: OpenBLAS, 1 thread (%s)", in.Config), nil
		}
		return Textf("BLAS: OpenBLAS, 1 thread"), nil
	case in.OpenBLAS:
		return Text{}, Warn(Textf("BLAS: OpenBLAS runs %d threads (%s build); setting one thread at start did not take, so idle workers spin and take CPU from the preview", in.Threads, orUnknown(in.Parallel)),
			"start enrollstation with OPENBLAS_NUM_THREADS=1 in its environment, or install the single-threaded build: apt-get install libopenblas0-serial, then update-alternatives --config libblas.so.3-x86_64-linux-gnu")
	case in.Other:
		return Textf("BLAS: not OpenBLAS (a single-threaded BLAS, e.g. Debian's reference libblas3)"), nil
	}
	return Text{}, Warn(Textf("BLAS: no BLAS library found in this process, so dlib's face engine is not loaded as it should be"),
		"reinstall the runtime libraries (apt-get install libdlib19.1 libopenblas0-pthread, or the station's .deb), then run the selftest again")
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// moduleVersion is the version of a module built into this binary (gocv's own Version()
// constant lags its releases), or "" when the build did not record it (test binaries).
func moduleVersion(path string) string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, m := range bi.Deps {
			if m.Path == path {
				return m.Version
			}
		}
	}
	return ""
}

func checkCamera(ctx context.Context, spec string) (Text, error) {
	if spec == "" {
		devs, err := capture.ListDevices()
		if err != nil {
			return Text{}, Hint(err, "check that /sys/class/video4linux is readable")
		}
		if len(devs) == 0 {
			return Text{}, Hint(Errorf("no capture camera found in /sys/class/video4linux"), "plug in the USB camera, or name a source with --camera")
		}
		names := make([]string, len(devs))
		for i, d := range devs {
			names[i] = d.Path + " (" + d.Name + ")"
			if d.Err != "" {
				names[i] = d.Path + " (" + d.Err + ")"
			}
		}
		spec = devs[0].Path
		detail, err := readOneFrame(ctx, spec)
		if err != nil {
			return Text{}, err
		}
		return Textf("%d found: %s; %s", len(devs), strings.Join(names, ", "), detail), nil
	}
	if strings.HasPrefix(spec, "/") {
		if _, err := os.Stat(spec); errors.Is(err, os.ErrNotExist) {
			return Text{}, Hint(because(err, "the camera %s does not exist", spec), "plug in the USB camera, or name an existing source with --camera")
		}
	}
	return readOneFrame(ctx, spec)
}

func readOneFrame(ctx context.Context, spec string) (Text, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	src, err := capture.Open(ctx, spec, capture.Options{OpenTimeout: 5 * time.Second})
	if err != nil {
		return Text{}, Hint(err, "check the cable and that no other program uses the camera, or pick another with --camera")
	}
	defer src.Close()
	m := gocv.NewMat()
	defer m.Close()
	if err := src.Read(ctx, &m); err != nil {
		return Text{}, Hint(Errorf("%s opened but gave no frame: %w", spec, err), "replug the camera; if it persists, try another USB port")
	}
	info := src.Info()
	return Textf("%s (%s) delivers %dx%d at %.0f fps", spec, sourceKind(info.Kind), m.Cols(), m.Rows(), info.FPS), nil
}

// sourceKind is a camera source's kind (as the command line has always printed it) as
// a message a screen can translate.
func sourceKind(k capture.Kind) Text {
	switch k {
	case capture.KindDevice:
		return Textf("device")
	case capture.KindFile:
		return Textf("file")
	case capture.KindGStreamer:
		return Textf("gst")
	case capture.KindSynthetic:
		return Textf("synthetic")
	}
	return Text{Format: "%s", Args: []any{string(k)}}
}

func checkTPM(spec string, open TPMOpener, closeIt bool) (Text, error) {
	tp, err := open()
	if err != nil {
		if errors.Is(err, vault.ErrNoTPM) {
			return Text{}, Hint(because(err, "no TPM was found (%s)", spec),
				"this machine shows no TPM at /dev/tpmrm0: enable it in the firmware; for demos only, use --tpm swtpm")
		}
		return Text{}, Hint(err, "check that the TPM is enabled in the firmware and /dev/tpmrm0 is readable (tss group)")
	}
	if closeIt {
		defer tp.Close()
	}
	info := tp.Info()
	if info.Kind == "software" {
		return Textf("software TPM (%s, firmware %s) via %s — software TPM: for demos and tests only", info.Manufacturer, info.Firmware, spec), nil
	}
	if info.Kind == "hardware" {
		return Textf("hardware TPM (%s, firmware %s) via %s", info.Manufacturer, info.Firmware, spec), nil
	}
	return Textf("%s TPM (%s, firmware %s) via %s", info.Kind, info.Manufacturer, info.Firmware, spec), nil
}

func checkDataDir(dir string) (Text, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return Text{}, Hint(err, "choose a writable --data directory")
	}
	f, err := os.CreateTemp(dir, ".selftest-*")
	if err != nil {
		return Text{}, Hint(Errorf("data dir %s is not writable: %w", dir, err), "fix the directory's owner or permissions, or choose another --data")
	}
	name := f.Name()
	defer os.Remove(name)
	if _, err := f.Write(make([]byte, 4096)); err != nil {
		f.Close()
		return Text{}, Hint(Errorf("writing in %s: %w", dir, err), "free some disk space")
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return Text{}, Hint(Errorf("syncing in %s: %w", dir, err), "check the disk")
	}
	if err := f.Close(); err != nil {
		return Text{}, Hint(err, "check the disk")
	}
	free, err := vault.DiskFree(dir)
	if err != nil {
		return Text{}, Hint(err, "check the disk")
	}
	if free < vault.DefaultRecordFree {
		return Text{}, Hint(Errorf("%s has only %d MB free; the station stops taking enrollments below %d MB", dir, free>>20, vault.DefaultRecordFree>>20),
			"export batches and import the issuer's acknowledgements (acknowledged biometrics are deleted), or free disk space")
	}
	return Textf("%s is writable, %.1f GB free", dir, float64(free)/1e9), nil
}

func checkStore(dataDir string) (Text, error) {
	// A scratch store with a random key proves badger's encryption works here without
	// touching (or needing the TPM for) the station's real store.
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return Text{}, Hint(err, "choose a writable --data directory")
	}
	dir, err := os.MkdirTemp(dataDir, ".selftest-store-*")
	if err != nil {
		return Text{}, Hint(err, "choose a writable --data directory")
	}
	defer os.RemoveAll(dir)
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return Text{}, err
	}
	st, err := vault.CreateStore(dir, key, vault.StoreOptions{})
	if err != nil {
		return Text{}, Hint(err, "check free disk space and the data directory")
	}
	want := vault.DefaultSettings()
	want.Site = "selftest" // any value the reopened store must give back
	err = st.Update(func(tx *vault.Tx) error { return tx.PutSettings(want) })
	if cerr := st.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Text{}, Hint(Errorf("writing to an encrypted store: %w", err), "check free disk space and the data directory")
	}
	st, err = vault.OpenStore(dir, key)
	if err != nil {
		return Text{}, Hint(Errorf("reopening an encrypted store: %w", err), "check free disk space and the data directory")
	}
	defer st.Close()
	var got vault.Settings
	if err := st.View(func(tx *vault.Tx) (err error) { got, err = tx.Settings(); return err }); err != nil {
		return Text{}, Hint(Errorf("reading back from an encrypted store: %w", err), "check the disk")
	}
	if got.Site != want.Site {
		return Text{}, Hint(Errorf("an encrypted store gave back other data than was written"), "check the disk and memory (run a memory test)")
	}
	return Textf("encrypted badger store opens, closes and reopens (AES-256)"), nil
}
