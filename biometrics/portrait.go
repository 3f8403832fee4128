package biometrics

import (
	"fmt"
	"math"

	"gocv.io/x/gocv"
)

// The portrait is the full-frontal image of ISO/IEC 39794-5 (which follows ICAO 9303-3
// and ISO/IEC 19794-5): eyes level, the face's vertical centre line (nose bridge, middle
// of the mouth) at the horizontal centre (ISO: 45–55 % of the width), the eye line
// 30–50 % of the height below the top, the crown–chin head length 60–90 % of the height
// (ICAO 9303: 70–80 %, 32–36 mm of a 45 mm photo). Our targets, in the middle of those
// ranges (docs/quality.md, "Portrait"):
const (
	portraitAspect = 3.0 / 4 // width / height (ISO: 0.74–0.80)
	// portraitHead is the head length aimed at: the middle of both ISO's 60–90 % and
	// ICAO's 70–80 %. When the source has too little room around the face the crop
	// tightens, up to ICAO's maximum portraitHeadMax, before it pads.
	portraitHead    = 0.75
	portraitHeadMax = 0.80
	// portraitEyeLine: the eye line below the top. With a head of 0.75 the crown is
	// inside the image only for an eye line ≥ 0.375; 0.45 (the token image's and the
	// former crop's eye line) leaves 0.075 of the height above the crown for the hair and
	// 0.175 below the chin for the neck.
	portraitEyeLine = 0.45
)

// The room the portrait needs around the face in the source, in units of the
// eye-to-chin distance T (half the head length), at the tightest crop (portraitHeadMax):
// the margin thresholds' defaults, so that a frame that passes them can be cropped
// without padding.
const (
	portraitRoomSide  = portraitAspect / 2 * 2 / portraitHeadMax    // centre line to each side: 0.9375 T
	portraitRoomAbove = portraitEyeLine * 2 / portraitHeadMax       // eye line to the top: 1.125 T
	portraitRoomBelow = (1 - portraitEyeLine) * 2 / portraitHeadMax // eye line to the bottom: 1.375 T
)

// PortraitConfig sets the portrait size (3:4).
type PortraitConfig struct {
	Width int // output width in px (height is 4/3 of it); default 600, at least 480
}

// Portrait methods (PortraitGeometry.Method).
const (
	// PortraitHeadLength: scaled so the crown–chin length (from the 68 landmarks' jaw
	// line, Shape.HeadLength) is 75 % of the height (up to 80 % where the source has too
	// little room), eye line 45 % below the top, face centre line centred, roll from the
	// six-point eye centres.
	PortraitHeadLength = "head-length"
	// PortraitEyeDistance: the face has no 68-point shape (found by go-face only), so the
	// ISO/IEC 19794-5 token geometry is used: inter-eye distance ¼ of the width, the eye
	// midpoint centred and 45 % of the height below the top.
	PortraitEyeDistance = "eye-distance"
)

// PortraitGeometry describes a cropped portrait; positions are portrait pixels.
type PortraitGeometry struct {
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	Method   string  `json:"method"`    // PortraitHeadLength or PortraitEyeDistance
	InterEye float64 `json:"inter_eye"` // between the eye centres
	EyeY     float64 `json:"eye_y"`     // eye line (through the eye midpoint), from the top
	CentreX  float64 `json:"centre_x"`  // the face's vertical centre line (eye-distance: the eye midpoint), from the left
	// HeadLength is the crown–chin length and HeadRatio its share of the height; Crown
	// and Chin are where the crop put them. Zero for PortraitEyeDistance.
	HeadLength float64 `json:"head_length,omitempty"`
	HeadRatio  float64 `json:"head_ratio,omitempty"`
	Crown      Point   `json:"crown"`
	Chin       Point   `json:"chin"`
	Roll       float64 `json:"roll"`   // degrees of roll corrected
	Scale      float64 `json:"scale"`  // portrait px per source px
	Padded     bool    `json:"padded"` // the source did not cover the whole portrait; borders were replicated
}

// portraitPlan is how a face maps into the portrait: p' = Scale·R(roll)·(p − anchor) +
// (CentreX, EyeY), where R levels the eye line and anchor is the point of the face
// centre line on the eye line (eye-distance: the eye midpoint).
type portraitPlan struct {
	g      PortraitGeometry
	anchor Point
	cos    float64
	sin    float64
}

// level turns v (source px, relative to the eye midpoint) so the eye line is level.
func (p *portraitPlan) level(v Point) Point {
	return Point{p.cos*v.X - p.sin*v.Y, p.sin*v.X + p.cos*v.Y}
}

// unlevel is level's inverse.
func (p *portraitPlan) unlevel(v Point) Point {
	return Point{p.cos*v.X + p.sin*v.Y, -p.sin*v.X + p.cos*v.Y}
}

// minScale is the smallest scale at which the portrait maps inside a srcW×srcH source
// (+Inf when the anchor is outside it): the region the portrait takes from the source
// shrinks toward the anchor as the scale grows.
func (p *portraitPlan) minScale(srcW, srcH int) float64 {
	W, H := float64(p.g.Width), float64(p.g.Height)
	need := 0.0
	bound := func(a, v, size float64) {
		switch {
		case v < 0 && a <= 0, v > 0 && a >= size:
			need = math.Inf(1)
		case v < 0:
			need = math.Max(need, -v/a)
		case v > 0:
			need = math.Max(need, v/(size-a))
		}
	}
	for _, q := range []Point{{0, 0}, {W, 0}, {0, H}, {W, H}} {
		v := p.unlevel(Point{q.X - p.g.CentreX, q.Y - p.g.EyeY})
		bound(p.anchor.X, v.X, float64(srcW))
		bound(p.anchor.Y, v.Y, float64(srcH))
	}
	return need
}

// place maps a source point into the portrait.
func (p *portraitPlan) place(q Point) Point {
	v := p.level(Point{q.X - p.anchor.X, q.Y - p.anchor.Y})
	return Point{p.g.Scale*v.X + p.g.CentreX, p.g.Scale*v.Y + p.g.EyeY}
}

// planPortrait works out the portrait of face f from a srcW×srcH source (both in the
// same pixels). W is the portrait width.
func planPortrait(f Face, W, srcW, srcH int) (*portraitPlan, error) {
	H := int(math.Round(float64(W) / portraitAspect))
	L, R := f.Eyes()
	d := dist(L, R)
	if d < 4 {
		return nil, fmt.Errorf("biometrics: portrait: eyes %.1f px apart: %w", d, ErrNoFace)
	}
	M := mean(L, R)
	roll := math.Atan2(L.Y-R.Y, R.X-L.X)
	p := &portraitPlan{cos: math.Cos(roll), sin: math.Sin(roll), anchor: M}
	p.g = PortraitGeometry{Width: W, Height: H, Roll: roll * 180 / math.Pi, EyeY: portraitEyeLine * float64(H), CentreX: float64(W) / 2}
	minScale := func() float64 { return p.minScale(srcW, srcH) }
	if f.Shape == nil {
		p.g.Method = PortraitEyeDistance
		p.g.Scale = float64(W) / 4 / d
		p.g.Padded = p.g.Scale < minScale()
		p.g.InterEye = p.g.Scale * d
		return p, nil
	}
	s := f.Shape
	p.g.Method = PortraitHeadLength
	length := s.HeadLength()
	if length < 8 {
		return nil, fmt.Errorf("biometrics: portrait: head %.1f px long: %w", length, ErrNoFace)
	}
	// The anchor is where the face centre line crosses the eye line, in the levelled face.
	c := p.level(Point{s.FaceCentre().X - M.X, s.FaceCentre().Y - M.Y})
	p.anchor = Point{M.X + p.cos*c.X, M.Y - p.sin*c.X}
	// Head ratio: the target, or as much more (up to ICAO's maximum) as keeps the portrait
	// inside the source.
	ratio := math.Max(portraitHead, minScale()*length/float64(H))
	if ratio > portraitHeadMax {
		ratio, p.g.Padded = portraitHeadMax, true
	}
	p.g.Scale = ratio * float64(H) / length
	p.g.HeadRatio = ratio
	p.g.HeadLength = ratio * float64(H)
	p.g.InterEye = p.g.Scale * d
	p.g.Crown, p.g.Chin = p.place(s.Crown()), p.place(s.Chin())
	return p, nil
}

// CropPortrait makes the portrait of face f (in img's pixel coordinates, e.g. a Report's
// Face with the image the report came from). The result is a new BGR Mat owned by the
// caller; encode it with EncodeJPEG or EncodePNG.
func CropPortrait(img gocv.Mat, f Face, cfg PortraitConfig) (gocv.Mat, PortraitGeometry, error) {
	if cfg.Width == 0 {
		cfg.Width = 600
	}
	if cfg.Width < 480 {
		return gocv.Mat{}, PortraitGeometry{}, fmt.Errorf("biometrics: portrait width %d below the 480 px minimum", cfg.Width)
	}
	p, err := planPortrait(f, cfg.Width, img.Cols(), img.Rows())
	if err != nil {
		return gocv.Mat{}, PortraitGeometry{}, err
	}
	src, err := toBGR(img)
	if err != nil {
		return gocv.Mat{}, PortraitGeometry{}, err
	}
	defer src.Close()
	g := p.g
	// p' = Scale·R·(q − anchor) + (CentreX, EyeY) as OpenCV's 2×3 matrix.
	al, be := g.Scale*p.cos, -g.Scale*p.sin
	tx := g.CentreX - (al*p.anchor.X + be*p.anchor.Y)
	ty := g.EyeY - (-be*p.anchor.X + al*p.anchor.Y)
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	for i, v := range []float64{al, be, tx, -be, al, ty} {
		m.SetDoubleAt(i/3, i%3, v)
	}
	out := gocv.NewMat()
	interp := gocv.InterpolationArea
	if g.Scale > 1 {
		interp = gocv.InterpolationCubic
	}
	gocv.WarpAffineWithParams(src, &out, m, imagePt(g.Width, g.Height), interp, gocv.BorderReplicate, colorBlack)
	return out, g, nil
}

// portraitOverflow says how far (source px, image axes) the tightest portrait of face f
// (head ratio portraitHeadMax, the least room it can do with) runs past each border of
// a srcW×srcH frame. ok is false without a 68-point shape.
func portraitOverflow(f Face, srcW, srcH int) (left, right, top, bottom float64, ok bool) {
	if f.Shape == nil {
		return 0, 0, 0, 0, false
	}
	p, err := planPortrait(f, 600, srcW, srcH)
	if err != nil {
		return 0, 0, 0, 0, false
	}
	s := portraitHeadMax * float64(p.g.Height) / f.Shape.HeadLength()
	W, H := float64(p.g.Width), float64(p.g.Height)
	for _, q := range []Point{{0, 0}, {W, 0}, {0, H}, {W, H}} {
		v := p.unlevel(Point{q.X - p.g.CentreX, q.Y - p.g.EyeY})
		x, y := p.anchor.X+v.X/s, p.anchor.Y+v.Y/s
		left, right = math.Max(left, -x), math.Max(right, x-float64(srcW))
		top, bottom = math.Max(top, -y), math.Max(bottom, y-float64(srcH))
	}
	return left, right, top, bottom, true
}
