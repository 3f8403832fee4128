package enroll

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strings"

	"enrollstation/biometrics"
	"enrollstation/vault"
)

// qualityRange is the range an administrator may set a threshold to. Names are the
// fields of biometrics.Thresholds, as stored in the settings' Quality overrides.
type qualityRange struct {
	Min, Max float64
	Unit     string
}

// qualityRanges are the adjustable thresholds. A threshold outside its range would make
// every photo pass or none: refused with the range in the message.
var qualityRanges = map[string]qualityRange{
	"MinInterEye":               {30, 1000, "pixels"},
	"MinHeadSize":               {0, 1, "of image height"},
	"MaxHeadSize":               {0, 1, "of image height"},
	"MinSideMargin":             {0, 10, "eye-to-chin distances"},
	"MinMarginAbove":            {0, 10, "eye-to-chin distances"},
	"MinMarginBelow":            {0, 10, "eye-to-chin distances"},
	"MaxYaw":                    {0, 90, "degrees"},
	"MaxPitch":                  {0, 90, "degrees"},
	"MaxRoll":                   {0, 90, "degrees"},
	"MinSharpness":              {0, 100000, "Laplacian variance"},
	"MinLuminance":              {0, 1, "mean luminance 0-1"},
	"MaxLuminance":              {0, 1, "mean luminance 0-1"},
	"MaxUnderExposed":           {0, 1, "fraction of face pixels"},
	"MaxOverExposed":            {0, 1, "fraction of face pixels"},
	"MinDynamicRange":           {0, 8, "bits"},
	"MinIlluminationUniformity": {0, 1, "ratio"},
	"MaxBackgroundStdDev":       {0, 255, "luminance levels"},
	"SkinAMin":                  {-128, 127, "CIELAB a*"},
	"SkinAMax":                  {-128, 127, "CIELAB a*"},
	"SkinBMin":                  {-128, 127, "CIELAB b*"},
	"SkinBMax":                  {-128, 127, "CIELAB b*"},
}

// qualityPairs must keep Min ≤ Max.
var qualityPairs = [][2]string{{"MinHeadSize", "MaxHeadSize"}, {"MinLuminance", "MaxLuminance"}, {"SkinAMin", "SkinAMax"}, {"SkinBMin", "SkinBMax"}}

// QualityNames lists the adjustable quality thresholds, sorted.
func QualityNames() []string {
	out := make([]string, 0, len(qualityRanges))
	for n := range qualityRanges {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// thresholdValue reads a float64 field of th by name.
func thresholdValue(th biometrics.Thresholds, name string) float64 {
	return reflect.ValueOf(th).FieldByName(name).Float()
}

// checkThresholds refuses thresholds outside their ranges or with Min above Max.
func checkThresholds(th biometrics.Thresholds) error {
	for _, n := range QualityNames() {
		r, v := qualityRanges[n], thresholdValue(th, n)
		if math.IsNaN(v) || v < r.Min || v > r.Max {
			return badSetting("quality threshold %s = %g is out of range: it must be %g to %g (%s)", n, v, r.Min, r.Max, r.Unit)
		}
	}
	for _, p := range qualityPairs {
		if lo, hi := thresholdValue(th, p[0]), thresholdValue(th, p[1]); lo > hi {
			return badSetting("quality threshold %s = %g is above %s = %g", p[0], lo, p[1], hi)
		}
	}
	return nil
}

// applyQuality overlays threshold overrides (a JSON object with biometrics.Thresholds
// field names, e.g. {"MinInterEye": 90}) on base; unknown names and values out of
// range are refused.
func applyQuality(base biometrics.Thresholds, overrides json.RawMessage) (biometrics.Thresholds, error) {
	th := base
	dec := json.NewDecoder(bytes.NewReader(overrides))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&th); err != nil {
		return base, badSetting("quality thresholds: %v (use field names such as MinInterEye, MaxYaw, MinSharpness)", err)
	}
	if err := checkThresholds(th); err != nil {
		return base, err
	}
	return th, nil
}

// QualitySetting is one adjustable threshold as `settings show` lists it.
type QualitySetting struct {
	Name     string  `json:"name"`
	Value    float64 `json:"value"`   // what the station's final assessment uses
	Default  float64 `json:"default"` // biometrics.DefaultThresholds
	Override bool    `json:"override"`
	Min      float64 `json:"min"`
	Max      float64 `json:"max"`
	Unit     string  `json:"unit"`
}

// QualitySettings lists the adjustable thresholds with the station's values.
func QualitySettings(st *vault.Station) ([]QualitySetting, error) {
	s, err := Settings(st)
	if err != nil {
		return nil, err
	}
	over, err := qualityOverrides(s.Quality)
	if err != nil {
		return nil, err
	}
	def := biometrics.DefaultThresholds()
	cur, err := QualityThresholds(st, def)
	if err != nil {
		return nil, err
	}
	var out []QualitySetting
	for _, n := range QualityNames() {
		r := qualityRanges[n]
		_, o := over[n]
		out = append(out, QualitySetting{Name: n, Value: thresholdValue(cur, n), Default: thresholdValue(def, n), Override: o, Min: r.Min, Max: r.Max, Unit: r.Unit})
	}
	return out, nil
}

func qualityOverrides(raw json.RawMessage) (map[string]json.RawMessage, error) {
	over := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(raw)) == 0 {
		return over, nil
	}
	if err := json.Unmarshal(raw, &over); err != nil {
		return nil, fmt.Errorf("workflow: the station's quality overrides are unreadable: %w", err)
	}
	return over, nil
}

// ParseQualityAssignment parses NAME=VALUE (VALUE a number, or "default" to drop the
// override), checking the name.
func ParseQualityAssignment(s string) (name string, value *float64, err error) {
	name, val, ok := strings.Cut(s, "=")
	name, val = strings.TrimSpace(name), strings.TrimSpace(val)
	if !ok || name == "" || val == "" {
		return "", nil, badSetting("%q: expected NAME=VALUE, e.g. MinInterEye=120", s)
	}
	r, known := qualityRanges[name]
	if !known {
		return "", nil, badSetting("%q is not a quality threshold; the names are: %s", name, strings.Join(QualityNames(), ", "))
	}
	if val == "default" {
		return name, nil, nil
	}
	var v float64
	if _, err := fmt.Sscan(val, &v); err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return "", nil, badSetting("%s=%q: the value must be a number from %g to %g (%s), or default", name, val, r.Min, r.Max, r.Unit)
	}
	return name, &v, nil
}

// SetQuality changes the administrator's threshold overrides: each name is set to its
// value, or back to the default when the value is nil. The result is checked as a whole
// (ranges, Min ≤ Max) before it is stored, and the change is audited.
func SetQuality(st *vault.Station, admin *vault.Session, set map[string]*float64) error {
	if !admin.Has(vault.RoleAdmin) {
		return fmt.Errorf("%w (%s is not an administrator)", vault.ErrForbidden, admin.Name)
	}
	if len(set) == 0 {
		return badSetting("no quality threshold to set")
	}
	names := make([]string, 0, len(set))
	for n := range set {
		if _, ok := qualityRanges[n]; !ok {
			return badSetting("%q is not a quality threshold; the names are: %s", n, strings.Join(QualityNames(), ", "))
		}
		names = append(names, n)
	}
	sort.Strings(names)
	return st.Store().Update(func(tx *vault.Tx) error {
		s, err := tx.Settings()
		if err != nil {
			return err
		}
		over, err := qualityOverrides(s.Quality)
		if err != nil {
			return err
		}
		var detail []string
		for _, n := range names {
			if v := set[n]; v != nil {
				over[n] = json.RawMessage(fmt.Sprint(*v))
				detail = append(detail, fmt.Sprintf("%s=%g", n, *v))
			} else {
				delete(over, n)
				detail = append(detail, n+"=default")
			}
		}
		raw, err := json.Marshal(over)
		if err != nil {
			return err
		}
		if _, err := applyQuality(biometrics.DefaultThresholds(), raw); err != nil {
			return err
		}
		if len(over) == 0 {
			raw = nil
		}
		s.Quality = raw
		if err := tx.PutSettings(s); err != nil {
			return err
		}
		return tx.Audit(admin.Name, "station.quality", "", strings.Join(detail, " "))
	})
}

// settingError is a refused setting: its message is for the administrator as it reads,
// and it matches vault.ErrInvalid.
type settingError struct{ msg string }

func (e *settingError) Error() string { return e.msg }
func (e *settingError) Unwrap() error { return vault.ErrInvalid }

func badSetting(format string, args ...any) error {
	return &settingError{msg: fmt.Sprintf(format, args...)}
}
