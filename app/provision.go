package app

import (
	"fyne.io/fyne/v2"

	"enrollstation/vault"
)

// provisioningScreen is the first-run wizard, shown when the data directory holds no
// station (vault.Initialized is false). sh.tpm is open (nil when no TPM was found: the
// screen should say so). When provisioning succeeds the screen calls done on the UI
// thread with the new, open station, which the shell then owns (it shows the login).
// Returning nil means there is no wizard: the shell then explains how to provision from
// the command line.
//
// Created by the clerk helper so the shell compiles; owned by the supervisor helper
// (issue 8), who replaces this file.
func provisioningScreen(sh *shell, done func(*vault.Station)) fyne.CanvasObject { return nil }
