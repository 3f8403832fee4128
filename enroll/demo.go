package enroll

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"enrollstation/biometrics"
	"enrollstation/exporter"
	"enrollstation/vault"
)

// DemoAccount is one account of a demo station. They are printed on the demo login
// screen: a demo station runs on a software TPM and must never hold real citizens' data.
type DemoAccount struct {
	Name, Password string
	Roles          []vault.Role
}

// DemoAccounts are the accounts a fresh demo station is provisioned with; the first is
// the administrator.
var DemoAccounts = []DemoAccount{
	{"admin", "demo-admin-pw", []vault.Role{vault.RoleAdmin}},
	{"clerk", "demo-clerk-pw", []vault.Role{vault.RoleClerk}},
	{"supervisor", "demo-super-pw", []vault.Role{vault.RoleSupervisor}},
	{"technician", "demo-tech-pw", []vault.Role{vault.RoleTechnician}},
}

// Names of a station made by ProvisionDemo, by which the login screen knows the demo
// accounts exist.
const (
	DemoStationName = "Demo station"
	DemoSite        = "Demo office"
)

// DemoQuality is what a demo station changes from the quality defaults: ISO/IEC 39794-5's
// ±5° yaw and pitch widened to ±10°. No photo in the test set is frontal within ±5° (they
// are candid photos; the demo video's subject reads about −6° yaw), so a demo station with
// the standard's limits would never auto-capture. A real station keeps the standard's
// limits unless its administrator changes them; tests whose subjects come from the same
// photos use these limits too (DemoThresholds).
var DemoQuality = map[string]float64{"MaxYaw": 10, "MaxPitch": 10}

// DemoThresholds are the quality defaults with DemoQuality applied.
func DemoThresholds() biometrics.Thresholds {
	th := biometrics.DefaultThresholds()
	th.MaxYaw, th.MaxPitch = DemoQuality["MaxYaw"], DemoQuality["MaxPitch"]
	return th
}

// SetDemoQuality stores DemoQuality as the station's quality settings (audited like any
// administrator's change).
func SetDemoQuality(st *vault.Station, admin *vault.Session) error {
	set := map[string]*float64{}
	for n, v := range DemoQuality {
		set[n] = &v
	}
	return SetQuality(st, admin, set)
}

// HasDemoAccounts reports whether settings are those of a station made by ProvisionDemo.
func HasDemoAccounts(s vault.Settings) bool {
	return s.StationName == DemoStationName && s.Site == DemoSite
}

// ProvisionDemo initialises a fresh demo station in cfg.Data with DemoAccounts and a demo
// issuer key (see MakeDemoIssuerKey), so a new user can try a complete enrollment.
func ProvisionDemo(cfg Config, op Opener, tp *vault.TPM) (*vault.Station, error) {
	admin := DemoAccounts[0]
	st, err := op.InitStation(tp, vault.Config{}, vault.InitOptions{
		Name: DemoStationName, Site: DemoSite, Admin: admin.Name, AdminPassword: admin.Password,
	})
	if err != nil {
		return nil, err
	}
	if err := DemoExtras(cfg.Data, st, ProvisionOptions{Admin: admin.Name, AdminPassword: admin.Password}); err != nil {
		st.Close()
		return nil, err
	}
	return st, nil
}

// DemoExtras completes a demo station made with the wizard: DemoQuality, the demo accounts (other
// than the administrator, made by the wizard) and, unless an issuer key was imported, a
// demo issuer key whose private half stays in the data directory for verify.
func DemoExtras(dataDir string, st *vault.Station, o ProvisionOptions) error {
	admin, err := st.Login(o.Admin, o.AdminPassword)
	if err != nil {
		return err
	}
	for _, a := range DemoAccounts[1:] {
		if err := st.AddUser(admin, a.Name, a.Roles, a.Password); err != nil && !errors.Is(err, vault.ErrUserExists) {
			return fmt.Errorf("adding demo account %s: %w", a.Name, err)
		}
	}
	if err := SetDemoQuality(st, admin); err != nil {
		return fmt.Errorf("setting the demo's quality limits: %w", err)
	}
	if o.IssuerKey == nil {
		if _, err := MakeDemoIssuerKey(dataDir, st, admin); err != nil {
			return fmt.Errorf("making the demo issuer key: %w", err)
		}
	}
	return nil
}

// MakeDemoIssuerKey writes a new issuer key pair to dataDir/demo-issuer (issuer.key,
// issuer.pub: what `enrollstation verify --issuer-key` needs to open the demo's bundles)
// and imports the public key into the station. Demo stations only.
func MakeDemoIssuerKey(dataDir string, st *vault.Station, admin *vault.Session) (string, error) {
	k, err := exporter.GenerateIssuerKey()
	if err != nil {
		return "", err
	}
	priv, err := k.MarshalText()
	if err != nil {
		return "", err
	}
	pub, err := k.Public().MarshalText()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(dataDir, "demo-issuer")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "issuer.key"), priv, 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dir, "issuer.pub"), pub, 0o644); err != nil {
		return "", err
	}
	// A demo station's documented supervisor is the second person when a key exists.
	var second *vault.Session
	if set, err := Settings(st); err == nil && len(set.IssuerKey) > 0 {
		for _, a := range DemoAccounts {
			if a.Name != admin.Name && slices.Contains(a.Roles, vault.RoleSupervisor) {
				second, _ = st.Login(a.Name, a.Password)
			}
		}
	}
	if _, err := SetIssuerKey(st, admin, second, pub); err != nil {
		return "", err
	}
	return dir, nil
}
