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

// hasDemoAccounts reports whether this station has the demo accounts (whatever the
// station was named in the wizard).
func (sh *shell) hasDemoAccounts() bool {
	if sh.station == nil {
		return false
	}
	users, err := sh.station.Users()
	if err != nil {
		return false
	}
	have := map[string]bool{}
	for _, u := range users {
		have[u.Name] = true
	}
	for _, a := range demoAccounts {
		if !have[a.Name] {
			return false
		}
	}
	return true
}

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
