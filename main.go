// Command enrollstation is the Enrollment Station: a counter workstation that enrols
// citizens for an electronic identity card. See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"enrollstation/app"
	"enrollstation/cli"
	_ "enrollstation/internal/blas"    // one OpenBLAS thread: no spin-waiting workers
	_ "enrollstation/internal/clocale" // before Fyne reads the locale
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, cli.Commands(), app.Run)
	stop()
	os.Exit(code)
}
