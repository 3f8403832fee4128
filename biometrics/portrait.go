package biometrics

import (
	"fmt"
	"math"

	"gocv.io/x/gocv"
)

// PortraitConfig sets the portrait size. The geometry is the ISO/IEC 19794-5 token
// full-frontal image (also used by ISO/IEC 39794-5): 3:4, eyes level, the eye midpoint
// centred horizontally and 0.6 × width below the top edge, inter-eye distance ¼ width.
type PortraitConfig struct {
	Width int // output width in px (height is 4/3 of it); default 600, at least 480
}

// PortraitGeometry describes a cropped portrait.
type PortraitGeometry struct {
	Width    int     `json:"width"`
	Height   int     `json:"height"`
	InterEye float64 `json:"inter_eye"` // px in the portrait (= Width/4)
	EyeY     float64 `json:"eye_y"`     // eye line, px from the top
	Roll     float64 `json:"roll"`      // degrees of roll corrected
	Scale    float64 `json:"scale"`     // portrait px per source px
	Padded   bool    `json:"padded"`    // the source did not cover the whole portrait; borders were replicated
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
	src, err := toBGR(img)
	if err != nil {
		return gocv.Mat{}, PortraitGeometry{}, err
	}
	defer src.Close()
	L, R := f.Eyes()
	d := math.Hypot(R.X-L.X, R.Y-L.Y)
	if d < 4 {
		return gocv.Mat{}, PortraitGeometry{}, fmt.Errorf("biometrics: portrait: eyes %.1f px apart: %w", d, ErrNoFace)
	}
	W := cfg.Width
	H := W * 4 / 3
	g := PortraitGeometry{Width: W, Height: H, InterEye: float64(W) / 4, EyeY: 0.6 * float64(W)}
	g.Roll = math.Atan2(L.Y-R.Y, R.X-L.X) * 180 / math.Pi
	g.Scale = g.InterEye / d
	M := Point{(L.X + R.X) / 2, (L.Y + R.Y) / 2}

	// Rotate about M by -roll (OpenCV's angle convention), scale, and move M to its place.
	a := -g.Roll * math.Pi / 180
	al, be := g.Scale*math.Cos(a), g.Scale*math.Sin(a)
	tx := float64(W)/2 - (al*M.X + be*M.Y)
	ty := g.EyeY - (-be*M.X + al*M.Y)
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	for i, v := range []float64{al, be, tx, -be, al, ty} {
		m.SetDoubleAt(i/3, i%3, v)
	}
	// Map the portrait's corners back to the source to see if padding was needed.
	det := al*al + be*be
	for _, q := range [][2]float64{{0, 0}, {float64(W), 0}, {0, float64(H)}, {float64(W), float64(H)}} {
		x, y := q[0]-tx, q[1]-ty
		sx, sy := (al*x-be*y)/det, (be*x+al*y)/det
		if sx < 0 || sy < 0 || sx > float64(src.Cols()) || sy > float64(src.Rows()) {
			g.Padded = true
		}
	}
	out := gocv.NewMat()
	interp := gocv.InterpolationArea
	if g.Scale > 1 {
		interp = gocv.InterpolationCubic
	}
	gocv.WarpAffineWithParams(src, &out, m, imagePt(W, H), interp, gocv.BorderReplicate, colorBlack)
	return out, g, nil
}
