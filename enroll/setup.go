package enroll

import (
	"errors"
	"fmt"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/vault"
)

// CaptureSettings is how a capture on this station is judged and opened: the
// assessment configurations with the administrator's quality thresholds applied, and
// the camera options of the technician's profile. It is the one definition both the
// capture screen and `enrollstation enroll` use, so a threshold the administrator
// tightens refuses the same photo in both.
type CaptureSettings struct {
	// Live judges frames while the subject is positioned (biometrics.LiveConfig with
	// the station's thresholds); Final judges the kept frame or an imported photo
	// (biometrics.DefaultConfig with the station's thresholds).
	Live, Final biometrics.Config
	// Camera is what the camera opens with (see CameraOptions).
	Camera capture.Options
}

// StationCapture reads the station's capture settings for camera cam, with def the
// camera options used when the station has no profile for cam.
func StationCapture(st *vault.Station, cam string, def capture.Options) (CaptureSettings, error) {
	final, err := FinalAssessment(st)
	if err != nil {
		return CaptureSettings{}, err
	}
	live := biometrics.LiveConfig()
	if live.Thresholds, err = QualityThresholds(st, live.Thresholds); err != nil {
		return CaptureSettings{}, fmt.Errorf("workflow: the station's quality thresholds: %w", err)
	}
	opts, err := CameraOptions(st, cam, def)
	if err != nil {
		return CaptureSettings{}, err
	}
	return CaptureSettings{Live: live, Final: final, Camera: opts}, nil
}

// FinalAssessment is the configuration that judges a photo for the record on this
// station: biometrics.DefaultConfig with the administrator's quality thresholds.
func FinalAssessment(st *vault.Station) (biometrics.Config, error) {
	cfg := biometrics.DefaultConfig()
	th, err := QualityThresholds(st, cfg.Thresholds)
	if err != nil {
		return biometrics.Config{}, fmt.Errorf("workflow: the station's quality thresholds: %w", err)
	}
	cfg.Thresholds = th
	return cfg, nil
}

// CameraOptions returns the options to open camera cam with: the station's camera
// profile (resolution, rate and the technician's controls) when it is for that camera,
// else def. The capture step opens its camera with these, so the technician's
// calibration is re-applied whenever the camera opens. Loop, Fast and OpenTimeout come
// from def (they are about the source, not the calibration).
func CameraOptions(st *vault.Station, cam string, def capture.Options) (capture.Options, error) {
	p, _, err := ActiveCameraProfile(st)
	switch {
	case errors.Is(err, ErrNoProfile):
		return def, nil
	case err != nil:
		return capture.Options{}, err
	case p.Source != cam:
		return def, nil
	}
	o := p.Options()
	o.Loop, o.Fast, o.OpenTimeout = def.Loop, def.Fast, def.OpenTimeout
	if o.Width == 0 {
		o.Width, o.Height = def.Width, def.Height
	}
	return o, nil
}

// CaptureSettings is StationCapture on the service's station.
func (s *Service) CaptureSettings(cam string, def capture.Options) (CaptureSettings, error) {
	return StationCapture(s.st, cam, def)
}

// DefaultCameraOptions are the options the clerk's camera cam opens with when the
// station has no profile for it: 1280x720, and a video file loops.
func DefaultCameraOptions(cam string) capture.Options {
	spec, _ := capture.ParseSpec(cam) // an unparsable spec fails when opened, with its error
	return capture.Options{Width: 1280, Height: 720, Loop: spec.Kind == capture.KindFile}
}

// CameraChoices are the cameras a clerk may pick for a capture: the configured one
// first, then the other V4L2 capture devices that opened for listing. A device that
// cannot be listed is left out (the configured one is kept: opening it reports why).
func CameraChoices(configured string) []string {
	out := []string{}
	if configured != "" {
		out = append(out, configured)
	}
	devs, _ := capture.ListDevices() // no V4L2 on this machine: only the configured source
	for _, d := range devs {
		if d.Err == "" && d.Path != configured {
			out = append(out, d.Path)
		}
	}
	return out
}
