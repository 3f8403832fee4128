package biometrics

import (
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"sort"

	"gocv.io/x/gocv"
)

// Cascade files from Debian's opencv-data package.
const (
	DefaultFaceCascade = "lbpcascades/lbpcascade_frontalface.xml"
	DefaultEyeCascade  = "haarcascades/haarcascade_eye.xml"
)

// CascadeDirs are searched, in order, for relative cascade file names.
var CascadeDirs = []string{"/usr/share/opencv4", "/usr/local/share/opencv4", "/usr/share/opencv"}

// ErrCascadeMissing means an OpenCV cascade file was not found or did not load.
var ErrCascadeMissing = errors.New("OpenCV cascade file missing (install opencv-data: run scripts/setup)")

// TrackerConfig configures a Tracker. The zero value is usable.
type TrackerConfig struct {
	FaceCascade string // file, absolute or relative to CascadeDirs; default DefaultFaceCascade
	EyeCascade  string // default DefaultEyeCascade; used only when Eyes is set
	Eyes        bool   // also look for eyes inside each face box (costs a few ms per face)
	// Width is the width the frame is scaled down to before detection (default 320):
	// enrollment faces fill a good part of the frame, so small faces need not be found.
	Width int
	// MinFaceFraction is the smallest face width searched for, as a fraction of the
	// frame width (default 0.08).
	MinFaceFraction float64
}

// TrackedFace is one face box from the tracker, in frame pixel coordinates.
type TrackedFace struct {
	Rect image.Rectangle   `json:"rect"`
	Eyes []image.Rectangle `json:"eyes,omitempty"`
}

// Tracker finds face boxes fast enough to run on every preview frame (an OpenCV LBP
// cascade on a small grey copy). It gives no landmarks or quality; Assess does that on
// the frames kept. A Tracker is owned by one goroutine; Close it when done.
type Tracker struct {
	cfg         TrackerConfig
	face, eyes  gocv.CascadeClassifier
	hasEyes     bool
	grey, small gocv.Mat
}

func findCascade(name string) (string, error) {
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); err != nil {
			return "", fmt.Errorf("biometrics: cascade %s: %w", name, ErrCascadeMissing)
		}
		return name, nil
	}
	for _, d := range CascadeDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("biometrics: cascade %s not in %v: %w", name, CascadeDirs, ErrCascadeMissing)
}

// NewTracker loads the cascades.
func NewTracker(cfg TrackerConfig) (*Tracker, error) {
	if cfg.FaceCascade == "" {
		cfg.FaceCascade = DefaultFaceCascade
	}
	if cfg.EyeCascade == "" {
		cfg.EyeCascade = DefaultEyeCascade
	}
	if cfg.Width <= 0 {
		cfg.Width = 320
	}
	if cfg.MinFaceFraction <= 0 {
		cfg.MinFaceFraction = 0.08
	}
	t := &Tracker{cfg: cfg, face: gocv.NewCascadeClassifier(), eyes: gocv.NewCascadeClassifier(), grey: gocv.NewMat(), small: gocv.NewMat()}
	p, err := findCascade(cfg.FaceCascade)
	if err == nil && !t.face.Load(p) {
		err = fmt.Errorf("biometrics: loading cascade %s: %w", p, ErrCascadeMissing)
	}
	if err == nil && cfg.Eyes {
		p, err = findCascade(cfg.EyeCascade)
		if err == nil && !t.eyes.Load(p) {
			err = fmt.Errorf("biometrics: loading cascade %s: %w", p, ErrCascadeMissing)
		}
		t.hasEyes = err == nil
	}
	if err != nil {
		t.Close()
		return nil, err
	}
	return t, nil
}

// Close frees the cascades and buffers.
func (t *Tracker) Close() {
	t.face.Close()
	t.eyes.Close()
	t.grey.Close()
	t.small.Close()
}

// Track returns the face boxes in frame (8-bit grey, BGR or BGRA), largest first.
func (t *Tracker) Track(frame gocv.Mat) ([]TrackedFace, error) {
	if frame.Empty() || frame.Cols() <= 0 || frame.Rows() <= 0 {
		return nil, &ImageError{Err: ErrImageEmpty}
	}
	switch frame.Channels() {
	case 1:
		frame.CopyTo(&t.grey)
	case 3:
		gocv.CvtColor(frame, &t.grey, gocv.ColorBGRToGray)
	case 4:
		gocv.CvtColor(frame, &t.grey, gocv.ColorBGRAToGray)
	default:
		return nil, fmt.Errorf("biometrics: track: %d-channel frame", frame.Channels())
	}
	scale := 1.0
	if frame.Cols() > t.cfg.Width {
		scale = float64(t.cfg.Width) / float64(frame.Cols())
		h := int(float64(frame.Rows())*scale + 0.5)
		gocv.Resize(t.grey, &t.small, image.Pt(t.cfg.Width, h), 0, 0, gocv.InterpolationArea)
	} else {
		t.grey.CopyTo(&t.small)
	}
	gocv.EqualizeHist(t.small, &t.small)
	minSide := int(t.cfg.MinFaceFraction * float64(t.small.Cols()))
	if minSide < 20 {
		minSide = 20
	}
	rects := t.face.DetectMultiScaleWithParams(t.small, 1.15, 4, 0, image.Pt(minSide, minSide), image.Point{})
	out := make([]TrackedFace, 0, len(rects))
	for _, r := range rects {
		tf := TrackedFace{Rect: scaleRect(r, 1/scale)}
		if t.hasEyes {
			// Eyes are in the upper half of the face box.
			upper := image.Rect(r.Min.X, r.Min.Y, r.Max.X, r.Min.Y+r.Dy()*6/10).Intersect(image.Rect(0, 0, t.small.Cols(), t.small.Rows()))
			roi := t.small.Region(upper)
			min := r.Dx() / 8
			for _, e := range t.eyes.DetectMultiScaleWithParams(roi, 1.1, 3, 0, image.Pt(min, min), image.Point{}) {
				tf.Eyes = append(tf.Eyes, scaleRect(e.Add(upper.Min), 1/scale))
			}
			roi.Close()
		}
		out = append(out, tf)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rect.Dx() > out[j].Rect.Dx() })
	return out, nil
}

func scaleRect(r image.Rectangle, s float64) image.Rectangle {
	return image.Rect(int(float64(r.Min.X)*s+0.5), int(float64(r.Min.Y)*s+0.5), int(float64(r.Max.X)*s+0.5), int(float64(r.Max.Y)*s+0.5))
}
