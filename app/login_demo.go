package app

import (
	"fmt"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"enrollstation/vault"
)

// demoAccounts are the accounts a fresh demo station is provisioned with. They are
// printed on the demo login screen: a demo station runs on a software TPM and must never
// hold real citizens' data.
var demoAccounts = []struct {
	Name, Password string
	Roles          []vault.Role
}{
	{"admin", "demo-admin-pw", []vault.Role{vault.RoleAdmin}},
	{"clerk", "demo-clerk-pw", []vault.Role{vault.RoleClerk}},
	{"supervisor", "demo-super-pw", []vault.Role{vault.RoleSupervisor}},
	{"technician", "demo-tech-pw", []vault.Role{vault.RoleTechnician}},
}

// demoProvision initialises a fresh demo station with demoAccounts.
func (sh *shell) demoProvision() error {
	admin := demoAccounts[0]
	st, err := vault.Init(sh.env.Data, sh.tpm, vault.Config{}, vault.InitOptions{
		Name: demoStationName, Site: demoSite, Admin: admin.Name, AdminPassword: admin.Password,
	})
	if err != nil {
		return err
	}
	as, err := st.Login(admin.Name, admin.Password)
	if err != nil {
		st.Close()
		return err
	}
	for _, a := range demoAccounts[1:] {
		if err := st.AddUser(as, a.Name, a.Roles, a.Password); err != nil {
			st.Close()
			return fmt.Errorf("adding demo account %s: %w", a.Name, err)
		}
	}
	// The demo's own issuer key, so the demo's bundles can be exported and verified.
	if _, err := makeDemoIssuerKey(sh.env.Data, st, as); err != nil {
		st.Close()
		return fmt.Errorf("making the demo issuer key: %w", err)
	}
	sh.station = st
	return nil
}

// Names of a station made by demoProvision, by which the login screen knows the demo
// accounts exist.
const (
	demoStationName = "Demo station"
	demoSite        = "Demo office"
)

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
