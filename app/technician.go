package app

import (
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"syscall"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/internal/blas"
	"enrollstation/selftest"
	"enrollstation/vault"
)

// technicianScreens are the technician's tabs: the camera bench and diagnostics. Both
// share one techState, so diagnostics can show the running camera's rate and drops.
func technicianScreens() []roleScreen {
	tech := &techState{}
	return []roleScreen{
		{Role: vault.RoleTechnician, Title: tr("Cameras"), Icon: theme.MediaVideoIcon(),
			Make: func(sh *shell) fyne.CanvasObject { return newCameraScreen(sh, tech).content }},
		{Role: vault.RoleTechnician, Title: tr("Diagnostics"), Icon: theme.InfoIcon(),
			Make: func(sh *shell) fyne.CanvasObject { return newTechDiagnostics(sh, tech).content }},
		{Role: vault.RoleTechnician, Title: tr("Printer"), Icon: theme.DocumentPrintIcon(),
			Make: func(sh *shell) fyne.CanvasObject { return newPrinterScreen(sh).content }},
	}
}

// techDiagnostics is the selftest plus the station's own facts, and the diagnostics
// report export (no citizen data: counts, versions and check results only).
type techDiagnostics struct {
	sh      *shell
	tech    *techState
	content fyne.CanvasObject
	diag    *diagnostics
	facts   *widget.Label
	status  *widget.Label
}

// stationFacts are the diagnostics report's station section.
type stationFacts struct {
	StationID    string         `json:"station_id"`
	TPM          vault.TPMInfo  `json:"tpm"`
	BundleSeq    uint64         `json:"bundle_counter"`
	Enrollments  map[string]int `json:"enrollments_by_status"`
	AuditEntries uint64         `json:"audit_entries"`
	StorageBytes int64          `json:"storage_bytes"`   // allocated on disk (badger's files are sparse)
	DiskFree     uint64         `json:"disk_free_bytes"` // available on the data directory's disk
	ModelsOK     bool           `json:"models_ok"`
	ModelsDetail string         `json:"models_detail"`
	BLAS         blas.Info      `json:"blas"` // what dlib's maths library runs on (one thread wanted)
	Camera       *capture.Stats `json:"camera,omitempty"`
}

func newTechDiagnostics(sh *shell, tech *techState) *techDiagnostics {
	t := &techDiagnostics{sh: sh, tech: tech}
	// The window lends its open TPM connection (a running swtpm holds its state lock).
	lend := func() (*vault.TPM, error) { return sh.tpm, nil }
	t.diag = newDiagnostics(func() []selftest.Check { return selftest.StationChecks(sh.cfg, lend, false) })
	t.facts = widget.NewLabel("") // short lines: wrapping inside a card's VBox misjudges the height
	t.status = widget.NewLabel("")
	refresh := widget.NewButtonWithIcon(tr("Refresh"), theme.ViewRefreshIcon(), func() { t.showFacts() })
	export := widget.NewButtonWithIcon(tr("Export diagnostics report…"), theme.DocumentSaveIcon(), func() {
		dialog.ShowFileSave(func(w fyne.URIWriteCloser, err error) {
			if err != nil || w == nil {
				return
			}
			defer w.Close()
			if err := t.writeReport(w); err != nil {
				t.status.SetText(errText(err))
				return
			}
			t.status.SetText(tr("Report written to %s (no citizen data in it).", w.URI().Path()))
		}, sh.win)
	})
	export.Importance = widget.HighImportance
	note := widget.NewLabel(tr("The report holds check results, versions and counts only — no names, photos or templates."))
	note.Wrapping = fyne.TextWrapWord
	factsCard := widget.NewCard(tr("Station"), "", container.NewVBox(t.facts, container.NewHBox(refresh, export), note, t.status))
	split := container.NewHSplit(factsCard, t.diag.Content())
	split.Offset = 0.4
	t.content = split
	t.showFacts()
	// The checks load the face models and open the camera for a few seconds, so they run
	// when the technician asks rather than every time the home screen is built.
	t.diag.summary.SetText(tr("Press “Run checks” to test the models, face engine, OpenCV, camera, TPM and storage."))
	sh.current = t
	sh.emit("tech-diagnostics", t)
	return t
}

// gather collects the station facts.
func (t *techDiagnostics) gather() stationFacts {
	f := stationFacts{TPM: t.sh.tpm.Info(), Enrollments: map[string]int{}}
	if s, err := t.sh.station.Status(); err == nil {
		f.StationID, f.BundleSeq, f.AuditEntries = s.ID, s.Counter, s.AuditEntries
		for k, v := range s.Enrollments {
			f.Enrollments[string(k)] = v
		}
	}
	_ = filepath.WalkDir(t.sh.cfg.Data, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					f.StorageBytes += st.Blocks * 512 // what the file occupies, not its sparse length
				} else {
					f.StorageBytes += info.Size()
				}
			}
		}
		return nil
	})
	f.DiskFree, _ = vault.DiskFree(t.sh.cfg.Data)
	if err := biometrics.VerifyModels(t.sh.cfg.Models); err != nil {
		f.ModelsDetail = err.Error()
	} else {
		f.ModelsOK, f.ModelsDetail = true, fmt.Sprintf("%d models verified in %s", len(biometrics.PinnedModels()), t.sh.cfg.Models)
	}
	f.BLAS = blas.Probe()
	if st, ok := t.tech.cameraStats(); ok {
		f.Camera = &st
	}
	return f
}

func (t *techDiagnostics) showFacts() {
	f := t.gather()
	cam := tr("no camera open (open one on the Cameras tab)")
	if f.Camera != nil {
		cam = tr("%.1f fps delivered, %d frames dropped, %d reconnects", f.Camera.RecentFPS, f.Camera.Dropped, f.Camera.Reconnects)
	}
	models := tr("OK")
	if !f.ModelsOK {
		models = tr("PROBLEM: %s", f.ModelsDetail)
	}
	kind := f.TPM.Kind
	switch kind {
	case "software":
		kind = tr("software")
	case "hardware":
		kind = tr("hardware")
	}
	tpm := tr("%s (%s, firmware %s)", kind, f.TPM.Manufacturer, f.TPM.Firmware)
	if f.TPM.Kind == "software" {
		tpm += "\n    " + tr("software TPM: demos and tests only")
	}
	t.facts.SetText(fmt.Sprintf("%s: %s\n%s: %d\n%s: %.1f MB\n%s: %.1f GB\n%s: %s\n%s: %s\n%s: %s\n%s: %d",
		tr("TPM"), tpm, tr("Bundle counter"), f.BundleSeq, tr("Storage used"), float64(f.StorageBytes)/1e6,
		tr("Disk free"), float64(f.DiskFree)/1e9,
		tr("Models"), models, "BLAS", blasText(f.BLAS), tr("Camera"), cam, tr("Audit entries"), f.AuditEntries))
}

// blasText is the facts line for dlib's maths library: one OpenBLAS thread is right.
func blasText(in blas.Info) string {
	switch {
	case in.OpenBLAS && in.Threads == 1:
		return tr("OpenBLAS, 1 thread")
	case in.OpenBLAS:
		return tr("WARNING: OpenBLAS runs %d threads (they take CPU from the preview); run the checks for what to do", in.Threads)
	case in.Other:
		return tr("single-threaded BLAS")
	}
	return tr("WARNING: no BLAS found; run the checks")
}

// writeReport writes the diagnostics report as JSON.
func (t *techDiagnostics) writeReport(w io.Writer) error {
	rep := struct {
		Created time.Time         `json:"created"`
		Station stationFacts      `json:"station"`
		Checks  []selftest.Result `json:"checks"`
	}{time.Now().UTC(), t.gather(), t.diag.Results()}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}
