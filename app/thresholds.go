package app

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/widget"

	"enrollstation/biometrics"
)

// thresholdLabel is the plain-language label of a quality threshold (a field of
// biometrics.Thresholds) with its unit.
func thresholdLabel(field string) string {
	switch field {
	case "MinInterEye":
		return tr("Smallest distance between the eyes (pixels)")
	case "MinHeadSize":
		return tr("Smallest head size (share of the picture height)")
	case "MaxHeadSize":
		return tr("Largest head size (share of the picture height)")
	case "MinSideMargin":
		return tr("Space beside the face (eye-to-chin distances)")
	case "MinMarginAbove":
		return tr("Space above the eyes (eye-to-chin distances)")
	case "MinMarginBelow":
		return tr("Space below the eyes (eye-to-chin distances)")
	case "MaxYaw":
		return tr("Head turned left/right at most (degrees)")
	case "MaxPitch":
		return tr("Head tilted up/down at most (degrees)")
	case "MaxRoll":
		return tr("Head tilted sideways at most (degrees)")
	case "MaxSecondFace":
		return tr("Largest second face (size next to the main face)")
	case "MinEyesOpen":
		return tr("Eyes open at least (lid gap over eye-to-chin distance)")
	case "MaxMouthOpen":
		return tr("Mouth open at most (lip gap over eye-to-chin distance)")
	case "MinLuminanceVariance":
		return tr("Least brightness variation on the face")
	case "MinSharpness":
		return tr("Least sharpness")
	case "MinLuminance":
		return tr("Least brightness (0 to 1)")
	case "MaxLuminance":
		return tr("Most brightness (0 to 1)")
	case "MaxUnderExposed":
		return tr("Most too-dark area (share of the face)")
	case "MaxOverExposed":
		return tr("Most too-bright area (share of the face)")
	case "MinDynamicRange":
		return tr("Least contrast range (bits)")
	case "MinIlluminationUniformity":
		return tr("Least evenness of light (0 to 1)")
	case "MaxBackgroundStdDev":
		return tr("Most background variation")
	case "SkinAMin":
		return tr("Skin colour: least red-green (a*)")
	case "SkinAMax":
		return tr("Skin colour: most red-green (a*)")
	case "SkinBMin":
		return tr("Skin colour: least yellow-blue (b*)")
	case "SkinBMax":
		return tr("Skin colour: most yellow-blue (b*)")
	}
	return field // a threshold added later without a label yet
}

// thresholdForm edits the quality thresholds as numbers, one per limit; it stores only
// those that differ from the defaults (the settings' JSON overrides).
type thresholdForm struct {
	form    *widget.Form
	entries map[string]*widget.Entry
	fields  []string
	def     biometrics.Thresholds
}

func newThresholdForm(overrides json.RawMessage) *thresholdForm {
	f := &thresholdForm{entries: map[string]*widget.Entry{}, def: biometrics.DefaultThresholds(), form: widget.NewForm()}
	cur := f.def
	if len(overrides) > 0 {
		_ = json.Unmarshal(overrides, &cur) // checked when saved; shown as far as it reads
	}
	cv, dv := reflect.ValueOf(cur), reflect.ValueOf(f.def)
	for i := 0; i < cv.NumField(); i++ {
		sf := cv.Type().Field(i)
		if sf.Type.Kind() != reflect.Float64 {
			continue
		}
		e := widget.NewEntry()
		e.SetText(formatThreshold(cv.Field(i).Float()))
		e.SetPlaceHolder(formatThreshold(dv.Field(i).Float()))
		f.entries[sf.Name] = e
		f.fields = append(f.fields, sf.Name)
		f.form.Append(thresholdLabel(sf.Name), e)
	}
	return f
}

func formatThreshold(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }

// overrides returns the thresholds that differ from the defaults as JSON (nil when none),
// or which entry does not hold a number.
func (f *thresholdForm) overrides() (json.RawMessage, error) {
	out := map[string]float64{}
	dv := reflect.ValueOf(f.def)
	for _, name := range f.fields {
		text := strings.TrimSpace(strings.ReplaceAll(f.entries[name].Text, ",", "."))
		if text == "" {
			continue // empty = the default
		}
		v, err := strconv.ParseFloat(text, 64)
		if err != nil {
			return nil, fmt.Errorf("%s", tr("%s: enter a number, e.g. %s", thresholdLabel(name), formatThreshold(dv.FieldByName(name).Float())))
		}
		if v != dv.FieldByName(name).Float() {
			out[name] = v
		}
	}
	if len(out) == 0 {
		return nil, nil
	}
	return json.Marshal(out)
}

// object is the form, for placing on a screen.
func (f *thresholdForm) object() fyne.CanvasObject { return f.form }
