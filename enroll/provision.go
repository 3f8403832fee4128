package enroll

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/exporter"
	"enrollstation/vault"
)

// ProvisionOptions are what the first-run wizard (or `station init`) collects.
type ProvisionOptions struct {
	Name, Site    string
	Admin         string
	AdminPassword string
	IssuerKey     []byte // issuer public key file; nil to import later
	// WipeExistingStore lets init destroy store data already in the data directory
	// (station init --wipe-existing-store, after a typed confirmation).
	WipeExistingStore bool
}

// CheckIssuerKey parses an issuer public key file and returns its fingerprint, for the
// person provisioning to compare with the one the issuer published.
func CheckIssuerKey(b []byte) (string, error) {
	k, err := exporter.ParseIssuerPublicKey(b)
	if err != nil {
		return "", fmt.Errorf("workflow: not an issuer public key: %w", err)
	}
	return k.Fingerprint(), nil
}

// Provision creates a station with op and the TPM: keys, the encrypted store, the
// first administrator, and the issuer key when given. The issuer key is checked before
// anything is created. A station may be unnamed (`station init` without --name); the
// wizard asks for a name.
func Provision(op Opener, tp *vault.TPM, cfg vault.Config, o ProvisionOptions) (*vault.Station, error) {
	if o.IssuerKey != nil {
		if _, err := CheckIssuerKey(o.IssuerKey); err != nil {
			return nil, err
		}
	}
	st, err := op.InitStation(tp, cfg, vault.InitOptions{Name: strings.TrimSpace(o.Name), Site: strings.TrimSpace(o.Site), Admin: o.Admin, AdminPassword: o.AdminPassword, WipeExistingStore: o.WipeExistingStore})
	if err != nil {
		return nil, err
	}
	if o.IssuerKey != nil {
		if err := storeIssuerKey(st, o.Admin, o.IssuerKey); err != nil {
			st.Close()
			return nil, err
		}
	}
	return st, nil
}

// SetIssuerKey replaces the station's issuer public key (an administrator's act) and
// returns the new key's fingerprint.
func SetIssuerKey(st *vault.Station, admin *vault.Session, key []byte) (string, error) {
	if !admin.Has(vault.RoleAdmin) {
		return "", fmt.Errorf("%w (%s is not an administrator)", vault.ErrForbidden, admin.Name)
	}
	fp, err := CheckIssuerKey(key)
	if err != nil {
		return "", err
	}
	return fp, storeIssuerKey(st, admin.Name, key)
}

func storeIssuerKey(st *vault.Station, actor string, key []byte) error {
	fp, _ := CheckIssuerKey(key)
	return st.Store().Update(func(tx *vault.Tx) error {
		s, err := tx.Settings()
		if err != nil {
			return err
		}
		s.IssuerKey = append([]byte(nil), key...)
		if err := tx.PutSettings(s); err != nil {
			return err
		}
		return tx.Audit(actor, "station.issuer-key", "", fp)
	})
}

// Settings reads the station settings.
func Settings(st *vault.Station) (s vault.Settings, err error) {
	err = st.Store().View(func(tx *vault.Tx) error { s, err = tx.Settings(); return err })
	return s, err
}

// SettingsChange is what the administrator may change on the settings screen.
type SettingsChange struct {
	RetentionDays    int
	LockoutThreshold int
	IdleLockMinutes  int
	Language         string          // "en" or "zh"
	Quality          json.RawMessage // threshold overrides, JSON (may be nil)
}

// UpdateSettings applies an administrator's settings change after checking it.
func UpdateSettings(st *vault.Station, admin *vault.Session, c SettingsChange) error {
	if !admin.Has(vault.RoleAdmin) {
		return fmt.Errorf("%w (%s is not an administrator)", vault.ErrForbidden, admin.Name)
	}
	switch {
	case c.RetentionDays < 1 || c.RetentionDays > 3650:
		return fmt.Errorf("%w: retention must be 1 to 3650 days", vault.ErrInvalid)
	case c.LockoutThreshold < 1 || c.LockoutThreshold > 100:
		return fmt.Errorf("%w: lockout threshold must be 1 to 100 failed logins", vault.ErrInvalid)
	case c.IdleLockMinutes < 1 || c.IdleLockMinutes > 240:
		return fmt.Errorf("%w: idle lock must be 1 to 240 minutes", vault.ErrInvalid)
	case c.Language != "en" && c.Language != "zh":
		return fmt.Errorf("%w: language must be en or zh", vault.ErrInvalid)
	}
	if len(c.Quality) > 0 {
		if _, err := applyQuality(biometrics.DefaultThresholds(), c.Quality); err != nil {
			return err
		}
	}
	return st.Store().Update(func(tx *vault.Tx) error {
		s, err := tx.Settings()
		if err != nil {
			return err
		}
		s.RetentionDays, s.LockoutThreshold, s.IdleLockMinutes, s.Language = c.RetentionDays, c.LockoutThreshold, c.IdleLockMinutes, c.Language
		s.Quality = c.Quality
		if err := tx.PutSettings(s); err != nil {
			return err
		}
		return tx.Audit(admin.Name, "station.settings", "",
			fmt.Sprintf("retention %dd, lockout %d, idle %dm, language %s", c.RetentionDays, c.LockoutThreshold, c.IdleLockMinutes, c.Language))
	})
}

// QualityThresholds are the station's quality limits: base (e.g.
// biometrics.DefaultThresholds or the live preview's) with the administrator's
// overrides from the settings applied. The capture and assessment screens use them.
func QualityThresholds(st *vault.Station, base biometrics.Thresholds) (biometrics.Thresholds, error) {
	s, err := Settings(st)
	if err != nil || len(s.Quality) == 0 {
		return base, err
	}
	return applyQuality(base, s.Quality)
}

// ErrNoProfile means the station has no saved camera profile.
var ErrNoProfile = errors.New("workflow: no camera profile saved on this station")

// SaveCameraProfile stores a technician's camera profile and makes it the station's
// active one, re-applied whenever the camera opens.
func SaveCameraProfile(st *vault.Station, tech *vault.Session, p capture.CameraProfile) error {
	if !tech.Has(vault.RoleTechnician) {
		return fmt.Errorf("%w (%s is not a technician)", vault.ErrForbidden, tech.Name)
	}
	if err := p.Validate(); err != nil {
		return err
	}
	data, err := p.Marshal()
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	rec := &vault.CameraProfile{ID: "P" + vault.NewID(now), Device: p.Source, Data: data, CalibratedBy: tech.Name, CalibratedAt: now}
	return st.Store().Update(func(tx *vault.Tx) error {
		if err := tx.PutCameraProfile(rec); err != nil {
			return err
		}
		s, err := tx.Settings()
		if err != nil {
			return err
		}
		s.ActiveProfile = rec.ID
		if err := tx.PutSettings(s); err != nil {
			return err
		}
		return tx.Audit(tech.Name, "camera.profile", rec.ID, p.Name+" "+p.Source)
	})
}

// ActiveCameraProfile returns the station's active camera profile and its record ID,
// or ErrNoProfile.
func ActiveCameraProfile(st *vault.Station) (capture.CameraProfile, string, error) {
	return activeCameraProfile(st.Store())
}

func activeCameraProfile(s *vault.Store) (capture.CameraProfile, string, error) {
	var rec *vault.CameraProfile
	err := s.View(func(tx *vault.Tx) error {
		s, err := tx.Settings()
		if err != nil {
			return err
		}
		if s.ActiveProfile == "" {
			return ErrNoProfile
		}
		rec, err = tx.CameraProfile(s.ActiveProfile)
		return err
	})
	if err != nil {
		return capture.CameraProfile{}, "", err
	}
	p, err := capture.UnmarshalProfile(rec.Data)
	if err != nil {
		return capture.CameraProfile{}, "", fmt.Errorf("workflow: camera profile %s: %w", rec.ID, err)
	}
	return p, rec.ID, nil
}
