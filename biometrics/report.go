package biometrics

import (
	"math"
)

// MeasureID names a quality measure. The IDs are the OFIQ / ISO/IEC 29794-5 component
// names and are stable: exported bundles carry them.
type MeasureID string

// The measures, in report order. docs/quality.md defines each one.
const (
	SingleFacePresent           MeasureID = "SingleFacePresent"
	InterEyeDistance            MeasureID = "InterEyeDistance"
	HeadSize                    MeasureID = "HeadSize"
	LeftwardCropOfTheFaceImage  MeasureID = "LeftwardCropOfTheFaceImage"
	RightwardCropOfTheFaceImage MeasureID = "RightwardCropOfTheFaceImage"
	MarginAboveOfTheFaceImage   MeasureID = "MarginAboveOfTheFaceImage"
	MarginBelowOfTheFaceImage   MeasureID = "MarginBelowOfTheFaceImage"
	HeadPoseYaw                 MeasureID = "HeadPoseYaw"
	HeadPosePitch               MeasureID = "HeadPosePitch"
	HeadPoseRoll                MeasureID = "HeadPoseRoll"
	Sharpness                   MeasureID = "Sharpness"
	LuminanceMean               MeasureID = "LuminanceMean"
	UnderExposurePrevention     MeasureID = "UnderExposurePrevention"
	OverExposurePrevention      MeasureID = "OverExposurePrevention"
	DynamicRange                MeasureID = "DynamicRange"
	IlluminationUniformity      MeasureID = "IlluminationUniformity"
	BackgroundUniformity        MeasureID = "BackgroundUniformity"
	NaturalColour               MeasureID = "NaturalColour"
	EyesOpen                    MeasureID = "EyesOpen"
	MouthClosed                 MeasureID = "MouthClosed"
	LuminanceVariance           MeasureID = "LuminanceVariance"
)

// Measure is one quality component: its raw value, a 0–100 score (higher is better; 50
// at the pass limit) and whether it passes the configured threshold.
type Measure struct {
	ID        MeasureID `json:"id"`
	Raw       float64   `json:"raw"`
	Score     int       `json:"score"`
	Pass      bool      `json:"pass"`
	Mandatory bool      `json:"mandatory"`
	Unit      string    `json:"unit,omitempty"`
	Limit     string    `json:"limit"`
	Detail    string    `json:"detail,omitempty"`
}

// Thresholds are the pass limits (OFIQ maps raw values to 0–100 but sets no pass limits;
// these are ours, chosen in docs/quality.md). DefaultThresholds documents the defaults.
type Thresholds struct {
	MinInterEye float64 // eye-centre distance in input pixels (ISO/IEC 39794-5: 90), yaw-corrected
	// HeadSize is OFIQ's: eye-midpoint-to-chin distance T over the image height (half
	// the crown–chin head length the portrait is sized by).
	MinHeadSize, MaxHeadSize float64
	// MinSideMargin: eye midpoint to the left and right borders; MinMarginAbove/Below:
	// eye midpoint to the top/bottom border. All in units of T, the unit of OFIQ's
	// margins above and below (OFIQ's Leftward/Rightward crop is reported in IED, to the
	// farther eye, and its limit converted). The defaults are the room the portrait (see
	// CropPortrait) needs at its tightest, 80 % head, so a frame that passes can be
	// cropped without padding.
	MinSideMargin, MinMarginAbove, MinMarginBelow float64
	MaxYaw, MaxPitch, MaxRoll                     float64 // degrees (ISO/IEC 39794-5: 5, 5, 8, the defaults)
	MaxSecondFace                                 float64 // OFIQ's f = sqrt(second face area / first)
	MinEyesOpen                                   float64 // smaller eye's lid opening over T
	MaxMouthOpen                                  float64 // inner-lip opening over T
	MinSharpness                                  float64 // variance of the Laplacian at the normalised scale
	MinLuminance, MaxLuminance                    float64 // mean linear-light face luminance, 0–1
	MinLuminanceVariance                          float64 // variance of the linear-light face luminance
	MaxUnderExposed                               float64 // fraction of face pixels with linear luminance ≤ 25/255
	MaxOverExposed                                float64 // fraction of face pixels with linear luminance ≥ 247/255
	MinDynamicRange                               float64 // bits of luminance-histogram entropy
	MinIlluminationUniformity                     float64 // OFIQ's cheek-zone histogram intersection, 0–1
	MaxBackgroundStdDev                           float64 // luminance standard deviation beside and above the head
	// Natural skin colour box in CIELAB (a*, b*) for the cheeks.
	SkinAMin, SkinAMax, SkinBMin, SkinBMax float64
	// Advisory measures are reported and scored but do not fail the verdict.
	Advisory []MeasureID
}

// DefaultThresholds returns the limits documented in docs/quality.md.
func DefaultThresholds() Thresholds {
	return Thresholds{
		MinInterEye:    90,
		MinHeadSize:    0.1,
		MaxHeadSize:    portraitHeadMax / 2, // crown–chin 80 % of the height (ICAO's maximum)
		MinSideMargin:  portraitRoomSide,
		MinMarginAbove: portraitRoomAbove,
		MinMarginBelow: portraitRoomBelow,
		// ISO/IEC 39794-5's limits (±5° yaw and pitch, ±8° roll); a station may widen them
		// (settings set --quality MaxYaw=N) but starts where the standard is.
		MaxYaw:                    5,
		MaxPitch:                  5,
		MaxRoll:                   8,
		MaxSecondFace:             0.5,
		MinEyesOpen:               0.038,
		MaxMouthOpen:              0.2,
		MinSharpness:              120,
		MinLuminance:              0.08,
		MaxLuminance:              0.80,
		MinLuminanceVariance:      0.002,
		MaxUnderExposed:           0.5,
		MaxOverExposed:            0.05,
		MinDynamicRange:           5.5,
		MinIlluminationUniformity: 0.10,
		MaxBackgroundStdDev:       20,
		SkinAMin:                  3,
		SkinAMax:                  30,
		SkinBMin:                  3,
		SkinBMax:                  35,
		Advisory:                  []MeasureID{BackgroundUniformity, NaturalColour, DynamicRange, IlluminationUniformity, LuminanceVariance},
	}
}

// Report is the quality assessment of one image. It is JSON-serialisable; measure IDs are
// stable. Geometry (faces, landmarks) is in input-image pixels.
type Report struct {
	Width    int         `json:"width"`
	Height   int         `json:"height"`
	Scale    float64     `json:"scale"`   // analysed pixels per input pixel (≤ 1)
	Faces    []Face      `json:"faces"`   // every face found, left to right
	Subject  int         `json:"subject"` // index in Faces of the assessed face, -1 if none
	Measures []Measure   `json:"measures"`
	Pass     bool        `json:"pass"`  // every mandatory measure passes
	Score    int         `json:"score"` // mean score of the mandatory measures
	Guidance Guidance    `json:"guidance"`
	Pose     HeadPose    `json:"pose"`
	Face     *Face       `json:"-"` // the subject (== &Faces[Subject]), nil if none
	Template *Template   `json:"-"` // the subject's template, nil if none
	Eyes     [2]Point    `json:"eyes"`
	Failed   []MeasureID `json:"failed,omitempty"` // mandatory measures that fail
}

// HeadPose is the estimated head pose in degrees. Yaw > 0: face turned toward the
// image's right (the subject's left); pitch > 0: looking down; roll > 0: head tilted
// counter-clockwise as seen in the image.
type HeadPose struct {
	Yaw   float64 `json:"yaw"`
	Pitch float64 `json:"pitch"`
	Roll  float64 `json:"roll"`
}

// QualityComponent is one entry of the quality vector exported with a capture.
type QualityComponent struct {
	ID    MeasureID `json:"id"`
	Raw   float64   `json:"raw"`
	Score int       `json:"score"`
}

// QualityVector returns (measure ID, raw value, score) for every measure, in report order.
func (r *Report) QualityVector() []QualityComponent {
	v := make([]QualityComponent, len(r.Measures))
	for i, m := range r.Measures {
		v[i] = QualityComponent{ID: m.ID, Raw: m.Raw, Score: m.Score}
	}
	return v
}

// Measure returns the measure with the given ID.
func (r *Report) Measure(id MeasureID) (Measure, bool) {
	for _, m := range r.Measures {
		if m.ID == id {
			return m, true
		}
	}
	return Measure{}, false
}

func (r *Report) add(th Thresholds, m Measure) {
	m.Mandatory = true
	for _, id := range th.Advisory {
		if id == m.ID {
			m.Mandatory = false
		}
	}
	m.Raw = round(m.Raw, 4)
	r.Measures = append(r.Measures, m)
}

func (r *Report) finish(th Thresholds) {
	r.Pass = true
	sum, n := 0, 0
	r.Failed = nil
	for _, m := range r.Measures {
		if !m.Mandatory {
			continue
		}
		sum += m.Score
		n++
		if !m.Pass {
			r.Pass = false
			r.Failed = append(r.Failed, m.ID)
		}
	}
	if n > 0 {
		r.Score = sum / n
	}
	r.Guidance = guide(r, th)
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// scoreAbove scores a "higher is better" raw value: 0 at bad, 50 at limit, 100 at good.
func scoreAbove(raw, bad, limit, good float64) int {
	switch {
	case raw <= bad:
		return 0
	case raw >= good:
		return 100
	case raw < limit:
		return int(50 * (raw - bad) / (limit - bad))
	default:
		return 50 + int(50*(raw-limit)/(good-limit))
	}
}

// scoreBelow scores a "lower is better" raw value: 0 at bad, 50 at limit, 100 at good.
func scoreBelow(raw, good, limit, bad float64) int {
	return scoreAbove(-raw, -bad, -limit, -good)
}

// measureFace computes every measure for face f found in work (the analysed image,
