package capture

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
)

// ErrBadProfile: a stored camera profile cannot be decoded or is inconsistent.
var ErrBadProfile = errors.New("capture: bad camera profile")

// CameraProfile is a station's named camera set-up, saved by the technician and
// re-applied whenever the camera opens. It is plain JSON; the vault stores the bytes
// from [CameraProfile.Marshal].
type CameraProfile struct {
	Name       string     `json:"name"`
	Source     string     `json:"source"` // source spec, e.g. /dev/video0
	Width      int        `json:"width,omitempty"`
	Height     int        `json:"height,omitempty"`
	FPS        float64    `json:"fps,omitempty"`
	Controls   Controls   `json:"controls"`
	Thresholds Thresholds `json:"thresholds"`
}

// Validate reports what is wrong with p, if anything.
func (p CameraProfile) Validate() error {
	var errs []error
	if p.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	if _, err := ParseSpec(p.Source); err != nil {
		errs = append(errs, err)
	}
	if p.Width < 0 || p.Height < 0 || p.Width > 8192 || p.Height > 8192 || (p.Width == 0) != (p.Height == 0) {
		errs = append(errs, fmt.Errorf("resolution %dx%d (want both 0 or both 1..8192)", p.Width, p.Height))
	}
	if math.IsNaN(p.FPS) || p.FPS < 0 || p.FPS > 1000 {
		errs = append(errs, fmt.Errorf("fps %v (want 0..1000)", p.FPS))
	}
	if err := p.Controls.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w %q: %w", ErrBadProfile, p.Name, err)
	}
	return nil
}

// Marshal validates p and encodes it as JSON.
func (p CameraProfile) Marshal() ([]byte, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	return json.Marshal(p)
}

// UnmarshalProfile decodes and validates a profile saved by Marshal. Unknown fields are
// refused so a profile from a newer version is not half-applied.
func UnmarshalProfile(b []byte) (CameraProfile, error) {
	var p CameraProfile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return CameraProfile{}, fmt.Errorf("%w: %v", ErrBadProfile, err)
	}
	if dec.More() {
		return CameraProfile{}, fmt.Errorf("%w: trailing data after the profile", ErrBadProfile)
	}
	if err := p.Validate(); err != nil {
		return CameraProfile{}, err
	}
	return p, nil
}

// Options are the Open options that realise p: its resolution, rate and controls
// (applied on open, and on every reopen by a Pump).
func (p CameraProfile) Options() Options {
	c := p.Controls
	return Options{Width: p.Width, Height: p.Height, FPS: p.FPS, Controls: &c}
}

// Opener opens p's source with p's options, for [StartPump].
func (p CameraProfile) Opener() Opener { return SpecOpener(p.Source, p.Options()) }

// ApplyProfile applies p's controls to the camera a pump is running, e.g. after the
// technician edits them, and returns what the device reports it applied. Resolution
// and rate need a reopen: start a new pump with p.Opener() for those.
func ApplyProfile(ctx context.Context, pump *Pump, p CameraProfile) (Controls, error) {
	if err := p.Validate(); err != nil {
		return Controls{}, err
	}
	return pump.ApplyControls(ctx, p.Controls)
}
