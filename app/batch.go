package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/exporter"
	"enrollstation/vault"
)

// batchScreen closes batches, exports them with progress and cancel, shows the export
// history and imports the issuer's acknowledgements.
type batchScreen struct {
	sh      *shell
	content fyne.CanvasObject

	batches  []enroll.BatchInfo
	table    *widget.Table
	selected int // index into batches, -1 none

	closeBtn  *widget.Button
	target    *widget.Entry
	exportBtn *widget.Button
	cancelBtn *widget.Button
	progress  *widget.ProgressBar
	stage     *widget.Label
	ackPath   *widget.Entry
	status    *widget.Label

	cancel context.CancelFunc
	done   chan error // receives each export's outcome (tests wait on it)
}

func newBatchScreen(sh *shell) *batchScreen {
	b := &batchScreen{sh: sh, selected: -1, done: make(chan error, 1)}
	b.status = widget.NewLabel("")
	b.status.Wrapping = fyne.TextWrapWord
	b.closeBtn = widget.NewButtonWithIcon(tr("Close a batch of approved enrollments"), theme.ContentAddIcon(), func() { b.closeBatch() })

	cols := []string{tr("Batch"), tr("Enrollments"), tr("State"), tr("Bundle #"), tr("Issuer"), tr("Where")}
	b.table = headedTable(cols, func() int { return len(b.batches) }, func(l *widget.Label, id widget.TableCellID) {
		bi := b.batches[id.Row]
		switch id.Col {
		case 0:
			l.SetText(bi.ID)
		case 1:
			l.SetText(fmt.Sprint(len(bi.EnrollmentIDs)))
		case 2:
			l.SetText(stateText(bi.State))
		case 3:
			if bi.BundleSeq > 0 {
				l.SetText(fmt.Sprint(bi.BundleSeq))
			} else {
				l.SetText("—")
			}
		case 4:
			l.SetText(ackText(bi.Batch))
		case 5:
			l.SetText(bi.Location)
			if bi.DeliveryError != "" {
				l.SetText(bi.DeliveryError)
			}
		}
	})
	for i, w := range []float32{290, 125, 130, 100, 170, 390} {
		b.table.SetColumnWidth(i, w)
	}
	b.table.OnSelected = func(id widget.TableCellID) {
		sh.touch()
		if id.Row > 0 {
			b.selected = id.Row - 1
			b.updateButtons()
		}
	}

	b.target = widget.NewEntry()
	b.target.SetPlaceHolder(tr("Folder (e.g. USB stick) or the issuer's https:// address"))
	browse := widget.NewButtonWithIcon(tr("Choose folder…"), theme.FolderOpenIcon(), func() {
		dialog.ShowFolderOpen(func(u fyne.ListableURI, err error) {
			if err == nil && u != nil {
				b.target.SetText(u.Path())
			}
		}, sh.win)
	})
	b.exportBtn = widget.NewButtonWithIcon(tr("Export selected batch"), theme.UploadIcon(), func() { b.startExport() })
	b.exportBtn.Importance = widget.HighImportance
	b.cancelBtn = widget.NewButtonWithIcon(tr("Cancel"), theme.CancelIcon(), func() {
		if b.cancel != nil {
			b.cancel()
		}
	})
	b.cancelBtn.Disable()
	if sh.demo {
		// A demo exports to a folder of its own, so a new user can press Export at once.
		// (DirTarget wants an existing directory: a missing one means unmounted media.)
		dir := filepath.Join(sh.cfg.Data, "demo-export")
		if err := os.MkdirAll(dir, 0o700); err == nil {
			b.target.SetText(dir)
			// The station key beside the bundles, for verify (the running station holds
			// its store, so `station pubkey` cannot open it meanwhile).
			_ = os.WriteFile(filepath.Join(dir, "station.pem"), sh.station.PublicKeyPEM(), 0o644)
		}
	}
	b.progress = widget.NewProgressBar()
	b.stage = widget.NewLabel("")

	b.ackPath = widget.NewEntry()
	b.ackPath.SetPlaceHolder(tr("Issuer acknowledgement file"))
	ackBrowse := widget.NewButtonWithIcon(tr("Choose file…"), theme.FileIcon(), func() {
		dialog.ShowFileOpen(func(r fyne.URIReadCloser, err error) {
			if err == nil && r != nil {
				b.ackPath.SetText(r.URI().Path())
				r.Close()
			}
		}, sh.win)
	})
	ackBtn := widget.NewButtonWithIcon(tr("Import acknowledgement"), theme.DownloadIcon(), func() { b.importAck(b.ackPath.Text) })

	title := widget.NewLabelWithStyle(tr("Export history"), fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	exportBox := widget.NewCard(tr("Export"), "", container.NewVBox(
		container.NewBorder(nil, nil, nil, browse, b.target),
		container.NewBorder(nil, nil, nil, container.NewHBox(b.exportBtn, b.cancelBtn), b.progress),
		b.stage))
	// A card subtitle does not wrap and would widen the window past the screen.
	ackNote := widget.NewLabel(tr("Records the issuer accepts have their biometrics deleted from this station; refused ones keep them."))
	ackNote.Wrapping = fyne.TextWrapWord
	ackBox := widget.NewCard(tr("Issuer acknowledgement"), "",
		container.NewVBox(ackNote, container.NewBorder(nil, nil, nil, container.NewHBox(ackBrowse, ackBtn), b.ackPath)))
	bottom := container.NewVBox(container.NewGridWithColumns(2, exportBox, ackBox), b.status)
	top := container.NewHBox(title, layout.NewSpacer(), b.closeBtn)
	b.content = container.NewBorder(top, bottom, nil, nil, b.table)
	b.reload()
	sh.current = b
	return b
}

func stateText(s enroll.ExportState) string {
	switch s {
	case enroll.ExportClosed:
		return tr("closed")
	case enroll.ExportQueued:
		return tr("queued")
	case enroll.ExportSent:
		return tr("sent (retry)")
	case enroll.ExportConfirmed:
		return tr("confirmed")
	case enroll.ExportAcknowledged:
		return tr("acknowledged")
	}
	return string(s)
}

func (b *batchScreen) reload() {
	bs, err := enroll.Batches(b.sh.station)
	if err != nil {
		b.status.SetText(errText(err))
	}
	b.batches = bs
	if b.selected >= len(bs) {
		b.selected = -1
	}
	// Select the newest batch still to export, the usual next step.
	if b.selected < 0 {
		for i, bi := range bs {
			if bi.State != enroll.ExportConfirmed && bi.State != enroll.ExportAcknowledged {
				b.selected = i
				break
			}
		}
	}
	b.table.Refresh()
	if b.selected >= 0 {
		b.table.Select(widget.TableCellID{Row: b.selected + 1, Col: 0})
	}
	b.updateButtons()
}

func (b *batchScreen) updateButtons() {
	if b.cancel == nil && b.selected >= 0 && b.batches[b.selected].State != enroll.ExportConfirmed && b.batches[b.selected].State != enroll.ExportAcknowledged {
		b.exportBtn.Enable()
	} else {
		b.exportBtn.Disable()
	}
}

// closeBatch closes a batch of the approved enrollments not yet in one.
func (b *batchScreen) closeBatch() error {
	bt, err := enroll.CloseBatch(b.sh.station, b.sh.sess)
	if errors.Is(err, enroll.ErrNothingToBatch) {
		b.status.SetText(tr("There are no approved enrollments waiting for a batch."))
		return err
	}
	if err != nil {
		b.status.SetText(errText(err))
		return err
	}
	b.status.SetText(tr("Batch %s closed with %d enrollment(s). Choose where to export it.", bt.ID, len(bt.EnrollmentIDs)))
	b.selected = -1
	b.reload()
	return nil
}

// startExport exports the selected batch in the background; progress, the outcome and
// the history update on the UI thread. The outcome is also sent on b.done.
func (b *batchScreen) startExport() {
	if b.selected < 0 || b.cancel != nil {
		return
	}
	id := b.batches[b.selected].ID
	target, err := exporter.ParseTarget(b.target.Text)
	if err != nil || b.target.Text == "" {
		b.status.SetText(tr("Enter a folder or the issuer's https:// address first."))
		return
	}
	x, err := enroll.NewExporter(b.sh.station, b.sh.cfg.Data)
	if err != nil {
		b.status.SetText(errText(err))
		return
	}
	ctx, cancel := context.WithCancel(b.sh.ctx)
	b.cancel = cancel
	b.sh.onLogoutDo(cancel)
	b.exportBtn.Disable()
	b.cancelBtn.Enable()
	b.progress.SetValue(0)
	b.stage.SetText(tr("Building the signed, encrypted bundle…"))
	b.status.SetText("")
	sess := b.sh.sess
	go func() {
		loc, err := x.Export(ctx, sess, id, target, func(p enroll.Progress) {
			ui(func() {
				switch p.Stage {
				case "building":
					b.progress.SetValue(0.8 * float64(p.Done) / float64(max(p.Total, 1)))
				case "delivering":
					b.progress.SetValue(0.85)
					b.stage.SetText(tr("Delivering to %s…", target.String()))
				case "recording":
					b.progress.SetValue(0.95)
				}
			})
		})
		ui(func() {
			cancel()
			b.cancel = nil
			b.cancelBtn.Disable()
			switch {
			case err == nil:
				b.progress.SetValue(1)
				b.stage.SetText(tr("Delivered and confirmed."))
				msg := tr("Batch %s exported to %s", id, loc)
				if b.sh.demo {
					msg += "\n" + tr("Check it as the issuer would: enrollstation verify --issuer-key %s --station-key %s %s",
						filepath.Join(b.sh.cfg.Data, "demo-issuer", "issuer.key"), filepath.Join(b.sh.cfg.Data, "demo-export", "station.pem"), loc)
				}
				b.status.SetText(msg)
			case errors.Is(err, context.Canceled):
				b.stage.SetText(tr("Cancelled. The bundle stays queued; export again to finish."))
			case errors.Is(err, enroll.ErrNoIssuerKey):
				b.stage.SetText("")
				b.status.SetText(tr("This station has no issuer key yet. An administrator must import it (Station settings)."))
			default:
				b.stage.SetText(tr("Export failed; nothing was marked exported."))
				b.status.SetText(errText(err))
			}
			b.reload()
		})
		select {
		case b.done <- err:
		default:
		}
	}()
}

// ackText is the issuer's answer to a batch: how many records it accepted and refused.
func ackText(b vault.Batch) string {
	if b.IssuerAckAt.IsZero() {
		return "—"
	}
	return tr("%d accepted, %d refused", b.AckAccepted, b.AckRefused)
}

// importAck imports an issuer acknowledgement file.
func (b *batchScreen) importAck(path string) error {
	if path == "" {
		b.status.SetText(tr("Choose the acknowledgement file first."))
		return errors.New("no file")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		b.status.SetText(errText(err))
		return err
	}
	x, err := enroll.NewExporter(b.sh.station, b.sh.cfg.Data)
	if err != nil {
		b.status.SetText(errText(err))
		return err
	}
	res, err := x.ImportAck(b.sh.sess, data)
	if err != nil {
		b.status.SetText(errText(err))
		return err
	}
	msg := tr("The issuer acknowledged batch %s; biometrics of %d enrollment(s) deleted from this station.", res.BatchID, res.Purged)
	for _, r := range res.Rejected {
		msg += "\n" + tr("Refused by the issuer: %s (%s) — enrol this citizen again.", r.EnrollmentID, r.Reason)
	}
	if len(res.Rejected) > 0 {
		msg += "\n" + tr("Refused records keep their biometrics on this station until the retention period ends.")
	}
	b.status.SetText(msg)
	b.reload()
	return nil
}
