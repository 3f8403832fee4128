package app

import (
	"enrollstation/cli"
	"enrollstation/enroll"
	"enrollstation/internal/testkit"
)

// testOpener opens the real TPM, store and models for cfg, as main's opener does.
func testOpener(cfg enroll.Config) enroll.Opener {
	return testkit.Opener{Data: cfg.Data, TPM: cfg.TPM, Models: cfg.Models}
}

// testCLIRoot is the command line composed over testOpener (for `verify` in tests).
var testCLIRoot = &cli.Root{Opener: testOpener}
