// Command enrollstation is the Enrollment Station: a counter workstation that enrols
// citizens for an electronic identity card. See README.md and docs/ARCHITECTURE.md.
//
// main is the composition root: the command line fills one enroll.Config; station
// (below) is the only code that opens the TPM, the store and the face models; the
// window (app) or a command (cli) gets it and builds the enroll service from it.
package main

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"enrollstation/app"
	"enrollstation/biometrics"
	"enrollstation/cli"
	"enrollstation/enroll"
	_ "enrollstation/internal/clocale" // before Fyne reads the locale
	"enrollstation/vault"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, cli.Commands(), &cli.Root{
		Opener: func(cfg enroll.Config) enroll.Opener { return station{cfg} },
		Window: func(ctx context.Context, cfg enroll.Config, op enroll.Opener, demo bool, stderr io.Writer) error {
			return app.Run(ctx, cfg, op, demo, stderr)
		},
	})
	stop()
	os.Exit(code)
}

// station opens the configured TPM, store and models (enroll.Opener).
type station struct{ cfg enroll.Config }

func (s station) OpenTPM() (*vault.TPM, error) { return vault.OpenTPM(s.cfg.TPM, s.cfg.Data) }

func (s station) OpenStation(tp *vault.TPM) (*vault.Station, error) {
	return vault.Open(s.cfg.Data, tp, vault.Config{})
}

func (s station) InitStation(tp *vault.TPM, c vault.Config, o vault.InitOptions) (*vault.Station, error) {
	return vault.Init(s.cfg.Data, tp, c, o)
}

func (s station) LoadRecognizer() (*biometrics.Recognizer, error) {
	return biometrics.NewRecognizer(s.cfg.Models)
}
