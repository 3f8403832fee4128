package biometrics

import (
	"fmt"
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"
)

// The ISO/IEC 39794-5 full-frontal ranges a portrait must meet (docs/quality.md,
// "Portrait"), as fractions of the portrait's height (head, eye line from the top) and
// width (face centre line).
const (
	icaoHeadMin, icaoHeadMax      = 0.70, 0.80 // ICAO 9303-3 crown–chin (ISO/IEC 39794-5: 0.60–0.90)
	isoEyeMin, isoEyeMax          = 0.30, 0.50
	isoCentreMin, isoCentreMax    = 0.45, 0.55
	portraitTol                   = 0.03 // landmarks refitted on the portrait vs the crop's own
	portraitHeadWant, eyeLineWant = 0.75, 0.45
)

// portraitFigures are the portrait's geometry as its own assessment sees it.
type portraitFigures struct{ head, eye, centre, roll float64 }

func (f portraitFigures) String() string {
	return fmt.Sprintf("head %.3f H, eye line %.3f H, centre %.3f W, roll %.1f°", f.head, f.eye, f.centre, f.roll)
}

func figures(t *testing.T, rep *Report) portraitFigures {
	t.Helper()
	if rep.Face == nil || rep.Face.Shape == nil {
		t.Fatal("portrait: no 68-point face")
	}
	s := rep.Face.Shape
	W, H := float64(rep.Width), float64(rep.Height)
	return portraitFigures{head: s.HeadLength() / H, eye: s.EyeMidpoint().Y / H, centre: s.FaceCentre().X / W, roll: measure(t, rep, HeadPoseRoll).Raw}
}

// stretched scales m by fx horizontally and fy vertically.
func stretched(m gocv.Mat, fx, fy float64) gocv.Mat {
	out := gocv.NewMat()
	gocv.Resize(m, &out, image.Pt(int(float64(m.Cols())*fx), int(float64(m.Rows())*fy)), 0, 0, gocv.InterpolationCubic)
	return out
}

// bordered adds replicated borders (px) around m: the face moves off the centre.
func bordered(m gocv.Mat, top, bottom, left, right int) gocv.Mat {
	out := gocv.NewMat()
	gocv.CopyMakeBorder(m, &out, top, bottom, left, right, gocv.BorderReplicate, color.RGBA{})
	return out
}

// savePortrait writes p as a PNG to $PORTRAIT_DIR (if set), to look at.
func savePortrait(t *testing.T, name string, p gocv.Mat) {
	dir := os.Getenv("PORTRAIT_DIR")
	if dir == "" {
		return
	}
	png, err := EncodePNG(p)
	if err == nil {
		err = os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644)
	}
	if err != nil {
		t.Log(err)
	}
}

// TestPortraitFullFrontal crops photos and gocv variants of them (rotated, scaled,
// shifted, and vertically stretched or squashed so the eye-to-chin length no longer
// matches the inter-eye distance) and checks the portrait against ISO/IEC 39794-5 as
// the portrait's own assessment measures it. The stretched and squashed faces failed
// the former eye-distance crop: their head length came out at ~0.87 and ~0.56 of the
// height.
func TestPortraitFullFrontal(t *testing.T) {
	a := assessor(t)
	for _, tc := range []struct {
		name, photo string
		make        func(gocv.Mat) gocv.Mat
	}{
		{"bona", "bona.jpg", func(m gocv.Mat) gocv.Mat { return m.Clone() }},
		{"bona rotated 12", "bona.jpg", func(m gocv.Mat) gocv.Mat { return rotated(m, 12) }},
		{"luda rotated -20", "luda.jpg", func(m gocv.Mat) gocv.Mat {
			b := bordered(m, m.Rows()/4, m.Rows()/4, m.Cols()/4, m.Cols()/4) // room for the turned corners
			defer b.Close()
			return rotated(b, -20)
		}},
		{"luda scaled 0.6", "luda.jpg", func(m gocv.Mat) gocv.Mat { return scaled(m, 0.6) }},
		{"rena shifted", "rena.jpg", func(m gocv.Mat) gocv.Mat { return bordered(m, m.Rows()/3, 0, m.Cols()/2, 0) }},
		{"bona stretched 1.3", "bona.jpg", func(m gocv.Mat) gocv.Mat { return stretched(m, 1, 1.3) }},
		{"nayoung squashed 0.8", "nayoung.jpg", func(m gocv.Mat) gocv.Mat { return stretched(m, 1, 0.8) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			orig := decodeFace(t, tc.photo)
			src := tc.make(orig)
			orig.Close()
			defer src.Close()
			rep := mustAssess(t, a, src)
			p, g, err := CropPortrait(src, *rep.Face, PortraitConfig{})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			savePortrait(t, tc.name, p)
			if p.Cols() != 600 || p.Rows() != 800 || g.Width != 600 || g.Height != 800 {
				t.Fatalf("portrait %dx%d (geometry %dx%d), want 600x800", p.Cols(), p.Rows(), g.Width, g.Height)
			}
			prep := mustAssess(t, a, p)
			f := figures(t, prep)
			t.Logf("%s: %v; geometry %+v", tc.name, f, g)
			if f.head < icaoHeadMin || f.head > icaoHeadMax || math.Abs(f.head-portraitHeadWant) > portraitTol {
				t.Errorf("crown–chin %.3f of the height, want %.2f (ICAO %.2f–%.2f)", f.head, portraitHeadWant, icaoHeadMin, icaoHeadMax)
			}
			if f.eye < isoEyeMin || f.eye > isoEyeMax || math.Abs(f.eye-eyeLineWant) > portraitTol {
				t.Errorf("eye line %.3f of the height below the top, want %.2f (ISO %.2f–%.2f)", f.eye, eyeLineWant, isoEyeMin, isoEyeMax)
			}
			if f.centre < isoCentreMin || f.centre > isoCentreMax || math.Abs(f.centre-0.5) > portraitTol {
				t.Errorf("face centre line at %.3f of the width, want 0.5 (ISO %.2f–%.2f)", f.centre, isoCentreMin, isoCentreMax)
			}
			if math.Abs(f.roll) > 2 {
				t.Errorf("portrait roll %.2f°, want level", f.roll)
			}
			for _, id := range []MeasureID{HeadSize, LeftwardCropOfTheFaceImage, RightwardCropOfTheFaceImage, MarginAboveOfTheFaceImage, MarginBelowOfTheFaceImage, SingleFacePresent, InterEyeDistance} {
				if m := measure(t, prep, id); !m.Pass {
					t.Errorf("portrait %s fails: %+v", id, m)
				}
			}
			if g.Padded {
				t.Errorf("the source has room for the portrait but it was padded")
			}
		})
	}
}

func TestCropPortrait(t *testing.T) {
	a := assessor(t)
	bona := decodeFace(t, "bona.jpg")
	defer bona.Close()
	p, _, err := CropPortrait(bona, *mustAssess(t, a, bona).Face, PortraitConfig{})
	if err != nil {
		t.Fatal(err)
	}
	if jpg, err := EncodeJPEG(p, 92); err != nil || len(jpg) < 1000 {
		t.Errorf("portrait JPEG: %d bytes, %v", len(jpg), err)
	}
	p.Close()
	if _, _, err := CropPortrait(bona, Face{}, PortraitConfig{}); err == nil {
		t.Error("portrait of a face without landmarks")
	}
	if _, _, err := CropPortrait(bona, Face{}, PortraitConfig{Width: 300}); err == nil {
		t.Error("portrait below 480 px wide")
	}
}

// sourceRect is the bounding box (source px) of what the portrait of f takes from the
// source at head ratio ratio.
func sourceRect(t *testing.T, f Face, ratio float64) image.Rectangle {
	t.Helper()
	p, err := planPortrait(f, 600, 1<<20, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	s := ratio * float64(p.g.Height) / f.Shape.HeadLength()
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, q := range []Point{{0, 0}, {600, 0}, {0, 800}, {600, 800}} {
		v := p.unlevel(Point{q.X - p.g.CentreX, q.Y - p.g.EyeY})
		x, y := p.anchor.X+v.X/s, p.anchor.Y+v.Y/s
		minX, minY, maxX, maxY = math.Min(minX, x), math.Min(minY, y), math.Max(maxX, x), math.Max(maxY, y)
	}
	return image.Rect(int(math.Floor(minX)), int(math.Floor(minY)), int(math.Ceil(maxX)), int(math.Ceil(maxY)))
}

// TestPortraitGeometry checks what the crop records, that it tightens (up to 80 % head)
// rather than pad when the source has little room, and the eye-distance fallback for a
// face without 68 landmarks.
func TestPortraitGeometry(t *testing.T) {
	a := assessor(t)
	bona := decodeFace(t, "bona.jpg")
	defer bona.Close()
	f := *mustAssess(t, a, bona).Face
	p, g, err := CropPortrait(bona, f, PortraitConfig{})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	near := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol {
			t.Errorf("%s = %.2f, want %.2f ± %g (%+v)", what, got, want, tol, g)
		}
	}
	if g.Method != PortraitHeadLength || g.Padded {
		t.Errorf("bona.jpg: %+v, want head-length, not padded", g)
	}
	near("head ratio", g.HeadRatio, 0.75, 1e-9)
	near("head length", g.HeadLength, 600, 1e-6)
	near("crown to chin", dist(g.Crown, g.Chin), 600, 1e-6)
	near("eye line", g.EyeY, 360, 1e-9)
	near("centre line", g.CentreX, 300, 1e-9)
	near("crown y", g.Crown.Y, 360-300, 6) // the levelled jaw line is within a few degrees of vertical
	near("chin y", g.Chin.Y, 360+300, 6)
	near("inter-eye", g.InterEye, g.Scale*f.InterEye(), 1e-6)

	for _, tc := range []struct {
		room     float64 // the source holds the portrait at this head ratio
		min, max float64 // head ratio wanted
		padded   bool
	}{
		{0.78, 0.755, 0.7801, false},
		{0.86, 0.80, 0.80, true},
	} {
		r := sourceRect(t, f, tc.room)
		src := cropped(bona, r)
		p, g, err := CropPortrait(src, f.transformed(affine{1, 0, -float64(r.Min.X), 0, 1, -float64(r.Min.Y)}), PortraitConfig{})
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		savePortrait(t, fmt.Sprintf("bona room %.2f", tc.room), p)
		p.Close()
		if g.HeadRatio < tc.min || g.HeadRatio > tc.max || g.Padded != tc.padded {
			t.Errorf("source with room for %.2f: head ratio %.4f padded %v, want %.3f..%.3f padded %v", tc.room, g.HeadRatio, g.Padded, tc.min, tc.max, tc.padded)
		}
	}

	// Without the 68 landmarks: the token geometry from the eye corners.
	f.Shape = nil
	p, g, err = CropPortrait(bona, f, PortraitConfig{Width: 480})
	if err != nil {
		t.Fatal(err)
	}
	p.Close()
	if g.Method != PortraitEyeDistance || g.HeadLength != 0 || g.Width != 480 || g.Height != 640 {
		t.Errorf("no shape: %+v, want eye-distance 480x640", g)
	}
	near("inter-eye", g.InterEye, 120, 1e-6)
	near("eye line", g.EyeY, 288, 1e-9)
}
