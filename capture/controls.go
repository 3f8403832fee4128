package capture

import (
	"errors"
	"fmt"
	"math"

	"gocv.io/x/gocv"
)

// ErrBadControl: a control value is out of range.
var ErrBadControl = errors.New("capture: bad camera control value")

// Controls are a camera's technician settings. A nil field means "leave as is" when
// applying and "not reported" when reading back. Values are in the device's own units
// (V4L2: exposure in 100 µs steps, white balance in kelvin).
type Controls struct {
	AutoExposure     *bool    `json:"auto_exposure,omitempty"`
	Exposure         *float64 `json:"exposure,omitempty"`
	Gain             *float64 `json:"gain,omitempty"`
	AutoWhiteBalance *bool    `json:"auto_white_balance,omitempty"`
	WBTemperature    *float64 `json:"wb_temperature,omitempty"`
	AutoFocus        *bool    `json:"auto_focus,omitempty"`
	Focus            *float64 `json:"focus,omitempty"`
	Brightness       *float64 `json:"brightness,omitempty"`
	Contrast         *float64 `json:"contrast,omitempty"`
}

// merge returns c with every field that o sets taken from o: successive partial
// applies add up to the set a reopened camera gets again.
func (c Controls) merge(o Controls) Controls {
	pick := func(a, b *float64) *float64 {
		if b != nil {
			return b
		}
		return a
	}
	pickB := func(a, b *bool) *bool {
		if b != nil {
			return b
		}
		return a
	}
	return Controls{
		AutoExposure:     pickB(c.AutoExposure, o.AutoExposure),
		Exposure:         pick(c.Exposure, o.Exposure),
		Gain:             pick(c.Gain, o.Gain),
		AutoWhiteBalance: pickB(c.AutoWhiteBalance, o.AutoWhiteBalance),
		WBTemperature:    pick(c.WBTemperature, o.WBTemperature),
		AutoFocus:        pickB(c.AutoFocus, o.AutoFocus),
		Focus:            pick(c.Focus, o.Focus),
		Brightness:       pick(c.Brightness, o.Brightness),
		Contrast:         pick(c.Contrast, o.Contrast),
	}
}

// Controllable is implemented by sources whose device has controls (V4L2 cameras).
type Controllable interface {
	// SetControls applies c and returns the values the device reports afterwards.
	SetControls(c Controls) (Controls, error)
	// Controls reads the device's current values.
	Controls() (Controls, error)
}

// propDevice is the part of gocv.VideoCapture the controls need; tests fake it.
type propDevice interface {
	Set(prop gocv.VideoCaptureProperties, v float64)
	Get(prop gocv.VideoCaptureProperties) float64
}

// V4L2 exposure modes as OpenCV's V4L backend passes them to V4L2_CID_EXPOSURE_AUTO.
const (
	v4l2ExposureManual   = 1
	v4l2ExposureAperture = 3 // "auto" on UVC webcams
)

// Validate reports values no camera accepts.
func (c Controls) Validate() error {
	check := func(name string, v *float64, lo, hi float64) error {
		if v != nil && (math.IsNaN(*v) || *v < lo || *v > hi) {
			return fmt.Errorf("%w: %s %v outside [%v, %v]", ErrBadControl, name, *v, lo, hi)
		}
		return nil
	}
	return errors.Join(
		check("exposure", c.Exposure, 0, 1e6),
		check("gain", c.Gain, 0, 1e4),
		check("white balance temperature", c.WBTemperature, 1000, 15000),
		check("focus", c.Focus, 0, 1e4),
		check("brightness", c.Brightness, -1e4, 1e4),
		check("contrast", c.Contrast, -1e4, 1e4),
	)
}

func boolProp(b bool, on, off float64) float64 {
	if b {
		return on
	}
	return off
}

// applyControls sets c on d and reads everything back. Auto modes go first: UVC
// cameras ignore a manual exposure, temperature or focus while the auto mode is on.
func applyControls(d propDevice, c Controls) (Controls, error) {
	if err := c.Validate(); err != nil {
		return Controls{}, err
	}
	if c.AutoExposure != nil {
		d.Set(gocv.VideoCaptureAutoExposure, boolProp(*c.AutoExposure, v4l2ExposureAperture, v4l2ExposureManual))
	}
	if c.AutoWhiteBalance != nil {
		d.Set(gocv.VideoCaptureAutoWB, boolProp(*c.AutoWhiteBalance, 1, 0))
	}
	if c.AutoFocus != nil {
		d.Set(gocv.VideoCaptureAutoFocus, boolProp(*c.AutoFocus, 1, 0))
	}
	for _, v := range []struct {
		p gocv.VideoCaptureProperties
		v *float64
	}{
		{gocv.VideoCaptureExposure, c.Exposure},
		{gocv.VideoCaptureGain, c.Gain},
		{gocv.VideoCaptureWBTemperature, c.WBTemperature},
		{gocv.VideoCaptureFocus, c.Focus},
		{gocv.VideoCaptureBrightness, c.Brightness},
		{gocv.VideoCaptureContrast, c.Contrast},
	} {
		if v.v != nil {
			d.Set(v.p, *v.v)
		}
	}
	return readControls(d), nil
}

// readControls reads every control; OpenCV reports -1 for a control the device lacks,
// which we leave out (no UVC camera uses -1 for exposure, temperature or focus).
func readControls(d propDevice) Controls {
	num := func(p gocv.VideoCaptureProperties, allowNeg bool) *float64 {
		v := d.Get(p)
		if math.IsNaN(v) || (!allowNeg && v < 0) {
			return nil
		}
		return &v
	}
	flag := func(p gocv.VideoCaptureProperties, on float64) *bool {
		v := d.Get(p)
		if v < 0 || math.IsNaN(v) {
			return nil
		}
		b := v == on
		return &b
	}
	return Controls{
		AutoExposure:     flag(gocv.VideoCaptureAutoExposure, v4l2ExposureAperture),
		Exposure:         num(gocv.VideoCaptureExposure, false),
		Gain:             num(gocv.VideoCaptureGain, false),
		AutoWhiteBalance: flag(gocv.VideoCaptureAutoWB, 1),
		WBTemperature:    num(gocv.VideoCaptureWBTemperature, false),
		AutoFocus:        flag(gocv.VideoCaptureAutoFocus, 1),
		Focus:            num(gocv.VideoCaptureFocus, false),
		Brightness:       num(gocv.VideoCaptureBrightness, true),
		Contrast:         num(gocv.VideoCaptureContrast, true),
	}
}

// SetControls implements Controllable for V4L2 devices.
func (s *vcSource) SetControls(c Controls) (Controls, error) {
	if s.closed {
		return Controls{}, ErrClosed
	}
	if s.spec.Kind != KindDevice {
		return Controls{}, fmt.Errorf("%w: camera controls on a %s source", ErrUnsupported, s.spec.Kind)
	}
	return applyControls(s.vc, c)
}

// Controls implements Controllable for V4L2 devices.
func (s *vcSource) Controls() (Controls, error) {
	if s.closed {
		return Controls{}, ErrClosed
	}
	if s.spec.Kind != KindDevice {
		return Controls{}, fmt.Errorf("%w: camera controls on a %s source", ErrUnsupported, s.spec.Kind)
	}
	return readControls(s.vc), nil
}
