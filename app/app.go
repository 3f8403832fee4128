// Package app is the station's window: the Fyne screens for clerks, supervisors and
// technicians. It holds no business rules; those live in capture, biometrics, vault,
// exporter and the workflow they serve.
package app

import (
	"context"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"enrollstation/assets"
	"enrollstation/internal/cli"
	"enrollstation/internal/selftest"
)

// AppID is the Fyne application ID (also in FyneApp.toml).
const AppID = "example.enrollstation.station"

// Run opens the station window and returns when it is closed or ctx is cancelled.
func Run(ctx context.Context, env *cli.Env, demo bool) error {
	a := fyneapp.NewWithID(AppID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.IconPNG))
	title := "Enrollment Station"
	if demo {
		title += " — DEMO (software TPM, not for real enrolments)"
	}
	w := a.NewWindow(title)
	w.Resize(fyne.NewSize(1366, 768))

	cfg := selftest.Config{Data: env.Data, TPM: env.TPM, Models: env.Models, Camera: env.Camera}
	diag := newDiagnostics(func() []selftest.Check { return selftest.StationChecks(cfg) })
	content := diag.Content()
	if demo {
		content = container.NewBorder(demoBanner(), nil, nil, nil, content)
	}
	w.SetContent(content)

	go func() {
		<-ctx.Done()
		ui(a.Quit)
	}()
	diag.Start(ctx)
	w.ShowAndRun()
	return nil
}

// demoBanner marks every screen of a demo station, so nobody mistakes it for a real one.
func demoBanner() fyne.CanvasObject {
	bg := canvas.NewRectangle(theme.Color(theme.ColorNameWarning))
	text := widget.NewLabelWithStyle("DEMO STATION — software TPM and demo camera; not for real enrolments",
		fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	return container.NewStack(bg, text)
}
