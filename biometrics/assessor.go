package biometrics

import (
	"fmt"
	"image"
	"math"
	"runtime"

	"gocv.io/x/gocv"
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
