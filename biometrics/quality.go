package biometrics

import (
	"fmt"
	"image"
	"math"
	"runtime"

	"gocv.io/x/gocv"
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

// Thresholds are the pass limits. DefaultThresholds documents the defaults and why.
type Thresholds struct {
	MinInterEye float64 // eye-centre distance in input pixels (ISO/IEC 39794-5: 90)
	// HeadSize: estimated crown-to-chin height (3.8 × inter-eye) over image height.
	MinHeadSize, MaxHeadSize float64
	// Margins from the eye midpoint to each border, in inter-eye distances; the
	// defaults are what the ISO token portrait (see Portrait) needs without padding.
	MinSideMargin, MinMarginAbove, MinMarginBelow float64
	MaxYaw, MaxPitch, MaxRoll                     float64 // degrees
	MinSharpness                                  float64 // variance of the Laplacian at the normalised scale
	MinLuminance, MaxLuminance                    float64 // mean face luminance, 0–1
	MaxUnderExposed                               float64 // fraction of face pixels with luminance ≤ 25
	MaxOverExposed                                float64 // fraction of face pixels with luminance ≥ 247
	MinDynamicRange                               float64 // bits of luminance-histogram entropy
	MinIlluminationUniformity                     float64 // darker/brighter face-half mean luminance
	MaxBackgroundStdDev                           float64 // luminance standard deviation beside and above the head
	// Natural skin colour box in CIELAB (a*, b*) for the cheeks.
	SkinAMin, SkinAMax, SkinBMin, SkinBMax float64
	// Advisory measures are reported and scored but do not fail the verdict.
	Advisory []MeasureID
}

// DefaultThresholds returns the limits documented in docs/quality.md.
func DefaultThresholds() Thresholds {
	return Thresholds{
		MinInterEye:               90,
		MinHeadSize:               0.2,
		MaxHeadSize:               0.75,
		MinSideMargin:             tokenHalfWidth,
		MinMarginAbove:            tokenAbove,
		MinMarginBelow:            tokenBelow,
		MaxYaw:                    5,
		MaxPitch:                  5,
		MaxRoll:                   8,
		MinSharpness:              120,
		MinLuminance:              0.25,
		MaxLuminance:              0.85,
		MaxUnderExposed:           0.10,
		MaxOverExposed:            0.05,
		MinDynamicRange:           5.5,
		MinIlluminationUniformity: 0.70,
		MaxBackgroundStdDev:       20,
		SkinAMin:                  3,
		SkinAMax:                  30,
		SkinBMin:                  3,
		SkinBMax:                  35,
		Advisory:                  []MeasureID{BackgroundUniformity, NaturalColour, DynamicRange, IlluminationUniformity, HeadPosePitch},
	}
}

// Generic face geometry in inter-eye distances (IED), from the eye midpoint with the eye
// line level. The token portrait of ISO/IEC 19794-5 puts the eyes 1/4 of the image width
// apart, the eye midpoint at the horizontal centre and 0.6 × width below the top of a
// 3:4 image: so 2 IED to each side, 2.4 IED above and 5.33 − 2.4 = 2.93 IED below.
const (
	tokenHalfWidth = 2.0
	tokenAbove     = 2.4
	tokenBelow     = 4.0*4/3 - 2.4
	headLength     = 3.8 // crown to chin ≈ 2.0 above + 1.8 below the eye line
	// Yaw and pitch from the 5 landmarks use a generic face: the base of the nose sits
	// noseDepth IED in front of the eye-centre plane and noseDrop IED below the eye
	// line. See docs/quality.md for how rough this is.
	noseDepth = 0.30
	noseDrop  = 0.78
)

// Config configures an Assessor.
type Config struct {
	Thresholds Thresholds
	// MaxSide: images with a longer side are scaled down to it before analysis (speed:
	// HOG detection costs grow with pixels). Geometry in the report is always in input
	// pixels. Default 1280.
	MaxSide int
	// EyeCascade is the OpenCV cascade for EyesOpen (default DefaultEyeCascade).
	EyeCascade string
}

// DefaultConfig returns DefaultThresholds and MaxSide 1280: for photos and kept frames.
func DefaultConfig() Config { return Config{Thresholds: DefaultThresholds(), MaxSide: 1280} }

// LiveConfig is DefaultConfig analysing at 960 px, for assessing camera frames during
// capture: about 40% less work per 720p frame. An enrollment face (inter-eye ≥ 90 px at
// 720p) is still ≥ 67 px apart at 960, well within what the HOG detector finds; the
// measures are reported in input pixels either way.
func LiveConfig() Config { return Config{Thresholds: DefaultThresholds(), MaxSide: 960} }

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

// Assessor judges image quality. It is safe for concurrent use (the Recognizer
// serialises go-face; the pixel measures use no shared state).
type Assessor struct {
	rec  *Recognizer
	cfg  Config
	eyes *eyeDetector
}

// NewAssessor returns an Assessor using rec for detection, landmarks and templates. A
// zero MaxSide means 1280 and zero Thresholds mean DefaultThresholds.
func NewAssessor(rec *Recognizer, cfg Config) *Assessor {
	if cfg.MaxSide <= 0 {
		cfg.MaxSide = 1280
	}
	if cfg.Thresholds.MaxLuminance == 0 && cfg.Thresholds.MinInterEye == 0 {
		cfg.Thresholds = DefaultThresholds()
	}
	if cfg.EyeCascade == "" {
		cfg.EyeCascade = DefaultEyeCascade
	}
	a := &Assessor{rec: rec, cfg: cfg, eyes: newEyeDetector(cfg.EyeCascade)}
	// A forgotten Close costs only the cascade's memory until the Assessor is collected.
	runtime.AddCleanup(a, func(e *eyeDetector) { e.close() }, a.eyes)
	return a
}

// Close frees the eye cascade; later Assess calls fail. The Recognizer is the caller's to
// close. Safe to call twice.
func (a *Assessor) Close() { a.eyes.close() }

// Config returns the assessor's configuration.
func (a *Assessor) Config() Config { return a.cfg }

// AssessBytes decodes a JPEG or PNG (see DecodeImage) and assesses it.
func (a *Assessor) AssessBytes(data []byte) (*Report, error) {
	m, err := DecodeImage(data)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return a.Assess(m)
}

// AssessImage assesses an image.Image.
func (a *Assessor) AssessImage(img image.Image) (*Report, error) {
	m, err := MatFromImage(img)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return a.Assess(m)
}

// Assess judges img (8-bit grey, BGR or BGRA; not modified). When no face is found it
// returns a report (with guidance) together with an error wrapping ErrNoFace.
func (a *Assessor) Assess(img gocv.Mat) (*Report, error) {
	if img.Empty() || img.Cols() <= 0 || img.Rows() <= 0 {
		return nil, &ImageError{Err: ErrImageEmpty}
	}
	if img.Cols() > MaxImageSide || img.Rows() > MaxImageSide || img.Cols()*img.Rows() > MaxImagePixels {
		return nil, &ImageError{Width: img.Cols(), Height: img.Rows(), Err: ErrImageTooLarge}
	}
	work, err := toBGR(img)
	if err != nil {
		return nil, err
	}
	defer work.Close()
	scale := 1.0
	if long := max(work.Cols(), work.Rows()); long > a.cfg.MaxSide {
		scale = float64(a.cfg.MaxSide) / float64(long)
		gocv.Resize(work, &work, image.Pt(int(float64(work.Cols())*scale+0.5), int(float64(work.Rows())*scale+0.5)), 0, 0, gocv.InterpolationArea)
	}
	jpg, err := EncodeJPEG(work, 95)
	if err != nil {
		return nil, err
	}
	faces, err := a.rec.do(jpg, false)
	if err != nil {
		return nil, err
	}
	rep := &Report{Width: img.Cols(), Height: img.Rows(), Scale: scale, Subject: -1}
	th := a.cfg.Thresholds
	if len(faces) == 0 {
		rep.add(th, Measure{ID: SingleFacePresent, Raw: 0, Score: 0, Pass: false, Unit: "faces", Limit: "= 1"})
		rep.finish(th)
		return rep, fmt.Errorf("biometrics: assessing %dx%d image: %w", rep.Width, rep.Height, ErrNoFace)
	}
	subj := 0
	for i, f := range faces {
		if f.InterEye() > faces[subj].InterEye() {
			subj = i
		}
	}
	if err := measureFace(rep, th, a.eyes, work, faces[subj], len(faces), scale); err != nil {
		return nil, err
	}
	rep.Subject = subj
	rep.Faces = make([]Face, len(faces))
	for i, f := range faces {
		rep.Faces[i] = f.scaled(1 / scale)
	}
	rep.Face = &rep.Faces[subj]
	t := NewTemplate(rep.Face.Descriptor, a.rec.Jitter())
	rep.Template = &t
	l, r := rep.Face.Eyes()
	rep.Eyes = [2]Point{l, r}
	rep.finish(th)
	return rep, nil
}

func (f Face) scaled(s float64) Face {
	if s == 1 {
		return f
	}
	out := f
	out.Rect = scaleRect(f.Rect, s)
	for i, p := range f.Landmarks {
		out.Landmarks[i] = image.Pt(int(float64(p.X)*s+0.5), int(float64(p.Y)*s+0.5))
	}
	return out
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
// scale × the input size).
func measureFace(rep *Report, th Thresholds, eyes *eyeDetector, work gocv.Mat, f Face, nFaces int, scale float64) error {
	W, H := float64(work.Cols()), float64(work.Rows())
	L, R := f.Eyes()
	d := math.Hypot(R.X-L.X, R.Y-L.Y)
	M := Point{(L.X + R.X) / 2, (L.Y + R.Y) / 2}
	ex := Point{(R.X - L.X) / d, (R.Y - L.Y) / d} // along the eye line, toward image right
	ey := Point{-ex.Y, ex.X}                      // face "down"
	N := f.Landmarks[LmNose]
	u := ((float64(N.X)-M.X)*ex.X + (float64(N.Y)-M.Y)*ex.Y) / d
	v := ((float64(N.X)-M.X)*ey.X + (float64(N.Y)-M.Y)*ey.Y) / d

	n := float64(nFaces)
	rep.add(th, Measure{ID: SingleFacePresent, Raw: n, Score: map[bool]int{true: 100, false: 0}[nFaces == 1], Pass: nFaces == 1, Unit: "faces", Limit: "= 1"})

	ied := d / scale
	rep.add(th, Measure{ID: InterEyeDistance, Raw: ied, Score: scoreAbove(ied, 0, th.MinInterEye, th.MinInterEye*4/3), Pass: ied >= th.MinInterEye, Unit: "px", Limit: fmt.Sprintf(">= %g", th.MinInterEye)})

	hs := headLength * d / H
	hsScore := scoreAbove(hs, 0, th.MinHeadSize, th.MinHeadSize*1.5)
	if hs > th.MinHeadSize*1.5 {
		hsScore = scoreBelow(hs, th.MaxHeadSize*0.8, th.MaxHeadSize, 1.2*th.MaxHeadSize)
	}
	rep.add(th, Measure{ID: HeadSize, Raw: hs, Score: hsScore, Pass: hs >= th.MinHeadSize && hs <= th.MaxHeadSize, Unit: "of image height", Limit: fmt.Sprintf("%g..%g", th.MinHeadSize, th.MaxHeadSize)})

	side := func(id MeasureID, raw, limit float64) {
		rep.add(th, Measure{ID: id, Raw: raw, Score: scoreAbove(raw, 0, limit, limit*1.25), Pass: raw >= limit, Unit: "IED", Limit: fmt.Sprintf(">= %g", round(limit, 2))})
	}
	side(LeftwardCropOfTheFaceImage, M.X/d, th.MinSideMargin)
	side(RightwardCropOfTheFaceImage, (W-M.X)/d, th.MinSideMargin)
	side(MarginAboveOfTheFaceImage, M.Y/d, th.MinMarginAbove)
	side(MarginBelowOfTheFaceImage, (H-M.Y)/d, th.MinMarginBelow)

	pose := HeadPose{
		Roll:  math.Atan2(L.Y-R.Y, R.X-L.X) * 180 / math.Pi,
		Yaw:   math.Atan(u/noseDepth) * 180 / math.Pi,
		Pitch: pitchFromDrop(v),
	}
	rep.Pose = HeadPose{Yaw: round(pose.Yaw, 2), Pitch: round(pose.Pitch, 2), Roll: round(pose.Roll, 2)}
	angle := func(id MeasureID, raw, limit float64) {
		rep.add(th, Measure{ID: id, Raw: raw, Score: scoreBelow(math.Abs(raw), 0, limit, 3*limit), Pass: math.Abs(raw) <= limit, Unit: "deg", Limit: fmt.Sprintf("|x| <= %g", limit)})
	}
	angle(HeadPoseYaw, pose.Yaw, th.MaxYaw)
	angle(HeadPosePitch, pose.Pitch, th.MaxPitch)
	angle(HeadPoseRoll, pose.Roll, th.MaxRoll)

	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(work, &grey, gocv.ColorBGRToGray)
	bounds := image.Rect(0, 0, work.Cols(), work.Rows())
	// Inner face: eyebrows to mouth, cheek to cheek (axis-aligned around the eye midpoint).
	faceR := image.Rect(int(M.X-0.8*d), int(M.Y-0.45*d), int(M.X+0.8*d), int(M.Y+1.45*d)).Intersect(bounds)
	if faceR.Dx() < 4 || faceR.Dy() < 4 {
		faceR = f.Rect.Intersect(bounds)
	}

	sharp := sharpness(grey, faceR, d)
	rep.add(th, Measure{ID: Sharpness, Raw: sharp, Score: scoreAbove(sharp, 0, th.MinSharpness, 3*th.MinSharpness), Pass: sharp >= th.MinSharpness, Limit: fmt.Sprintf(">= %g", th.MinSharpness)})

	st := lumStats(grey, faceR, int(M.X))
	lumScore := scoreAbove(st.mean, 0, th.MinLuminance, (th.MinLuminance+th.MaxLuminance)/2)
	if st.mean > (th.MinLuminance+th.MaxLuminance)/2 {
		lumScore = scoreBelow(st.mean, (th.MinLuminance+th.MaxLuminance)/2, th.MaxLuminance, 1)
	}
	rep.add(th, Measure{ID: LuminanceMean, Raw: st.mean, Score: lumScore, Pass: st.mean >= th.MinLuminance && st.mean <= th.MaxLuminance, Limit: fmt.Sprintf("%g..%g", th.MinLuminance, th.MaxLuminance)})
	rep.add(th, Measure{ID: UnderExposurePrevention, Raw: st.under, Score: scoreBelow(st.under, 0, th.MaxUnderExposed, 4*th.MaxUnderExposed), Pass: st.under <= th.MaxUnderExposed, Unit: "fraction", Limit: fmt.Sprintf("<= %g", th.MaxUnderExposed)})
	rep.add(th, Measure{ID: OverExposurePrevention, Raw: st.over, Score: scoreBelow(st.over, 0, th.MaxOverExposed, 4*th.MaxOverExposed), Pass: st.over <= th.MaxOverExposed, Unit: "fraction", Limit: fmt.Sprintf("<= %g", th.MaxOverExposed)})
	rep.add(th, Measure{ID: DynamicRange, Raw: st.entropy, Score: scoreAbove(st.entropy, 0, th.MinDynamicRange, 7.5), Pass: st.entropy >= th.MinDynamicRange, Unit: "bits", Limit: fmt.Sprintf(">= %g", th.MinDynamicRange)})
	rep.add(th, Measure{ID: IlluminationUniformity, Raw: st.uniformity, Score: scoreAbove(st.uniformity, 0, th.MinIlluminationUniformity, 0.95), Pass: st.uniformity >= th.MinIlluminationUniformity, Limit: fmt.Sprintf(">= %g", th.MinIlluminationUniformity), Detail: fmt.Sprintf("left half %.3f, right half %.3f", st.left, st.right)})

	bg, ok := background(grey, M, d)
	bm := Measure{ID: BackgroundUniformity, Raw: bg, Score: scoreBelow(bg, 0, th.MaxBackgroundStdDev, 3*th.MaxBackgroundStdDev), Pass: bg <= th.MaxBackgroundStdDev, Unit: "stddev", Limit: fmt.Sprintf("<= %g", th.MaxBackgroundStdDev)}
	if !ok {
		bm.Raw, bm.Score, bm.Pass, bm.Detail = 0, 0, false, "no background visible beside or above the head"
	}
	rep.add(th, bm)

	a, b := skinLab(work, L, R, d)
	dist := boxDistance(a, b, th.SkinAMin, th.SkinAMax, th.SkinBMin, th.SkinBMax)
	rep.add(th, Measure{ID: NaturalColour, Raw: dist, Score: scoreBelow(dist, 0, 0.001, 15), Pass: dist == 0, Unit: "a*b* distance", Limit: fmt.Sprintf("a* %g..%g, b* %g..%g", th.SkinAMin, th.SkinAMax, th.SkinBMin, th.SkinBMax), Detail: fmt.Sprintf("a*=%.1f b*=%.1f", a, b)})

	open, detail, err := eyes.open(grey, L, R, d)
	if err != nil {
		return fmt.Errorf("biometrics: EyesOpen: %w", err)
	}
	rep.add(th, Measure{ID: EyesOpen, Raw: float64(open), Score: 50 * open, Pass: open == 2, Unit: "eyes", Limit: "= 2", Detail: detail})
	return nil
}

// pitchFromDrop inverts v = (noseDrop·cos p + noseDepth·sin p) for the pitch p (degrees)
// where v is the nose's drop below the eye line in IED.
func pitchFromDrop(v float64) float64 {
	rr := math.Hypot(noseDrop, noseDepth)
	alpha := math.Atan2(noseDepth, noseDrop)
	c := math.Max(-1, math.Min(1, v/rr))
	if v > rr {
		return alpha * 180 / math.Pi
	}
	// Two poses give the same drop; take the one nearer frontal.
	p := alpha - math.Acos(c)
	return p * 180 / math.Pi
}

func boxDistance(a, b, amin, amax, bmin, bmax float64) float64 {
	da := math.Max(0, math.Max(amin-a, a-amax))
	db := math.Max(0, math.Max(bmin-b, b-bmax))
	return math.Hypot(da, db)
}

// sharpness is the variance of the Laplacian of the face region scaled so that the
// inter-eye distance is 64 px, making it independent of resolution.
func sharpness(grey gocv.Mat, r image.Rectangle, d float64) float64 {
	roi := grey.Region(r)
	defer roi.Close()
	s := 64 / d
	norm := gocv.NewMat()
	defer norm.Close()
	w, h := max(8, int(float64(r.Dx())*s+0.5)), max(8, int(float64(r.Dy())*s+0.5))
	interp := gocv.InterpolationArea
	if s > 1 {
		interp = gocv.InterpolationLinear
	}
	gocv.Resize(roi, &norm, image.Pt(w, h), 0, 0, interp)
	lap := gocv.NewMat()
	defer lap.Close()
	gocv.Laplacian(norm, &lap, gocv.MatTypeCV64F, 3, 1, 0, gocv.BorderReplicate)
	mean, std := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer std.Close()
	gocv.MeanStdDev(lap, &mean, &std)
	sd := std.GetDoubleAt(0, 0)
	return sd * sd
}

type lum struct {
	mean, under, over, entropy float64
	left, right, uniformity    float64
}

func lumStats(grey gocv.Mat, r image.Rectangle, midX int) lum {
	pix, _ := grey.DataPtrUint8()
	stride := grey.Cols()
	var hist [256]int
	var sumL, sumR float64
	var nL, nR int
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := pix[y*stride:]
		for x := r.Min.X; x < r.Max.X; x++ {
			v := row[x]
			hist[v]++
			if x < midX {
				sumL += float64(v)
				nL++
			} else {
				sumR += float64(v)
				nR++
			}
		}
	}
	n := float64(r.Dx() * r.Dy())
	var st lum
	var sum float64
	for v, c := range hist {
		sum += float64(v * c)
		p := float64(c) / n
		if p > 0 {
			st.entropy -= p * math.Log2(p)
		}
		if v <= 25 {
			st.under += float64(c)
		}
		if v >= 247 {
			st.over += float64(c)
		}
	}
	st.mean = sum / n / 255
	st.under /= n
	st.over /= n
	if nL > 0 && nR > 0 {
		st.left, st.right = sumL/float64(nL)/255, sumR/float64(nR)/255
		if hi := math.Max(st.left, st.right); hi > 0 {
			st.uniformity = math.Min(st.left, st.right) / hi
		}
	}
	return st
}

// background is the luminance standard deviation of the strips beside the head (from
// 1.3 to 2.0 IED from the eye midpoint, eye level up to 1.8 IED above) and above it
// (2.1–2.4 IED above): where an ICAO portrait shows plain background.
func background(grey gocv.Mat, M Point, d float64) (float64, bool) {
	b := image.Rect(0, 0, grey.Cols(), grey.Rows())
	regions := []image.Rectangle{
		image.Rect(int(M.X-2.0*d), int(M.Y-1.8*d), int(M.X-1.3*d), int(M.Y)),
		image.Rect(int(M.X+1.3*d), int(M.Y-1.8*d), int(M.X+2.0*d), int(M.Y)),
		image.Rect(int(M.X-1.0*d), int(M.Y-2.4*d), int(M.X+1.0*d), int(M.Y-2.1*d)),
	}
	pix, _ := grey.DataPtrUint8()
	stride := grey.Cols()
	var s, s2, n float64
	for _, r := range regions {
		r = r.Intersect(b)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := pix[y*stride:]
			for x := r.Min.X; x < r.Max.X; x++ {
				v := float64(row[x])
				s += v
				s2 += v * v
				n++
			}
		}
	}
	// Less than a tenth of the expected area: the frame is too tight to judge.
	if n < 0.1*(2*0.7*1.8+2*0.3)*d*d {
		return 0, false
	}
	mean := s / n
	return math.Sqrt(math.Max(0, s2/n-mean*mean)), true
}

// skinLab returns the mean CIELAB a*, b* of two cheek patches below the eyes.
func skinLab(bgr gocv.Mat, L, R Point, d float64) (a, b float64) {
	bounds := image.Rect(0, 0, bgr.Cols(), bgr.Rows())
	var sa, sb, n float64
	for _, e := range []Point{L, R} {
		r := image.Rect(int(e.X-0.2*d), int(e.Y+0.35*d), int(e.X+0.2*d), int(e.Y+0.75*d)).Intersect(bounds)
		if r.Dx() < 2 || r.Dy() < 2 {
			continue
		}
		roi := bgr.Region(r)
		lab := gocv.NewMat()
		gocv.CvtColor(roi, &lab, gocv.ColorBGRToLab)
		m := lab.Mean()
		lab.Close()
		roi.Close()
		w := float64(r.Dx() * r.Dy())
		// 8-bit Lab stores a* and b* offset by 128.
		sa += (m.Val2 - 128) * w
		sb += (m.Val3 - 128) * w
		n += w
	}
	if n == 0 {
		return 0, 0
	}
	return sa / n, sb / n
}
