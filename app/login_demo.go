package app

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
)

// demoAccounts are the accounts of a demo station (enroll provisions them).
var demoAccounts = enroll.DemoAccounts

// hasDemoAccounts reports whether this station was made by demoProvision.
func (sh *shell) hasDemoAccounts() bool { return enroll.HasDemoAccounts(sh.settings()) }

// demoCredentials lists the demo accounts on the demo login screen.
func demoCredentials() fyne.CanvasObject {
	var b strings.Builder
	b.WriteString(tr("DEMO accounts (user / password):"))
	for _, a := range demoAccounts {
		fmt.Fprintf(&b, "\n%s / %s", a.Name, a.Password)
	}
	l := widget.NewLabel(b.String())
	l.Importance = widget.WarningImportance
	return l
}
