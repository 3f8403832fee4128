package biometrics

import (
	"image"
	"image/color"
	"math"
	"testing"

	"gocv.io/x/gocv"
)

// Acceptance tests of issue 13 on variants of real photos made with gocv.

func pt(p Point) image.Point { return image.Pt(int(math.Round(p.X)), int(math.Round(p.Y))) }

// meanColour is the mean BGR colour of r in m.
func meanColour(m gocv.Mat, r image.Rectangle) color.RGBA {
	roi := m.Region(r.Intersect(image.Rect(0, 0, m.Cols(), m.Rows())))
	defer roi.Close()
	s := roi.Mean()
	return color.RGBA{R: uint8(s.Val3), G: uint8(s.Val2), B: uint8(s.Val1)} // gocv draws RGBA as BGR
}

func fillPoly(m *gocv.Mat, pts []image.Point, c color.RGBA) {
	pv := gocv.NewPointsVectorFromPoints([][]image.Point{pts})
	defer pv.Close()
	gocv.FillPoly(m, pv, c)
}

// closedEyes paints each eye (its six landmarks, grown by 90 % upward, 25 % downward and
// 20 % sideways) with the skin colour of the cheek just below it, then draws the lash line of
// a closed lid: a dark curve along the lower lid from corner to corner.
func closedEyes(m gocv.Mat, s *Shape) gocv.Mat {
	out := m.Clone()
	for _, e := range [][]Point{s[36:42], s[42:48]} {
		c := mean(e...)
		w := dist(e[0], e[3])
		cheek := image.Rect(int(c.X-0.3*w), int(c.Y+0.6*w), int(c.X+0.3*w), int(c.Y+0.9*w))
		skin := meanColour(m, cheek)
		var poly []image.Point
		for _, p := range e {
			k := 1.25 // below the centre: the lower lid
			if p.Y < c.Y {
				k = 1.9 // above: the upper lid and its lashes
			}
			poly = append(poly, pt(Point{c.X + 1.2*(p.X-c.X), c.Y + k*(p.Y-c.Y)}))
		}
		fillPoly(&out, poly, skin)
		lash := color.RGBA{uint8(float64(skin.R) * 0.35), uint8(float64(skin.G) * 0.35), uint8(float64(skin.B) * 0.35), 0}
		th := max(2, int(w/12))
		// e[0] and e[3] are the corners; e[4], e[5] the lower lid (dlib order).
		lid := []Point{e[0], e[5], e[4], e[3]}
		for k := 0; k+1 < len(lid); k++ {
			gocv.Line(&out, pt(lid[k]), pt(lid[k+1]), lash, th)
		}
	}
	blur := out.Clone()
	gocv.GaussianBlur(out, &blur, image.Point{}, 1.0, 1.0, gocv.BorderReplicate)
	out.Close()
	return blur
}

// openMouth drops the jaw of an upright face by a smooth warp: below the lip line the
// face is stretched downward, by gap (0.4 T) at the lips and fading to nothing well
// below the chin and beyond the jaw's sides; then the opening between the lips is
// painted dark red-brown like the inside of a mouth.
func openMouth(m gocv.Mat, s *Shape) gocv.Mat {
	t := s.tMetric()
	gap := 0.4 * t
	lip := mean(s[60:68]...).Y
	cx := (s[48].X + s[54].X) / 2
	halfW := (s[13].X - s[3].X) / 2
	bottom := s[shChin].Y + 1.2*t
	mapX := gocv.NewMatWithSize(m.Rows(), m.Cols(), gocv.MatTypeCV32F)
	mapY := gocv.NewMatWithSize(m.Rows(), m.Cols(), gocv.MatTypeCV32F)
	defer mapX.Close()
	defer mapY.Close()
	for y := 0; y < m.Rows(); y++ {
		for x := 0; x < m.Cols(); x++ {
			fy := float64(y)
			sx := math.Abs(float64(x)-cx) / halfW
			wx := 0.0
			if sx < 1.3 {
				wx = 0.5 + 0.5*math.Cos(math.Pi*math.Min(1, sx/1.3))
			}
			src := fy
			switch {
			case fy > lip+gap && fy < bottom:
				// Linear from a shift of gap at lip+gap to 0 at bottom.
				src = fy - wx*gap*(bottom-fy)/(bottom-lip-gap)
			case fy >= lip && fy <= lip+gap:
				src = lip + (fy-lip)*(1-wx) // the opening: filled below
			}
			mapX.SetFloatAt(y, x, float32(x))
			mapY.SetFloatAt(y, x, float32(src))
		}
	}
	out := gocv.NewMat()
	gocv.Remap(m, &out, &mapX, &mapY, gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
	c := image.Pt(int(cx), int(lip+gap/2))
	axes := image.Pt(int(0.47*(s[54].X-s[48].X)), int(gap/2)+1)
	gocv.Ellipse(&out, c, axes, 0, 0, 360, color.RGBA{R: 60, G: 15, B: 20}, -1)
	return out
}

// band paints an opaque cloth band (dark blue, with a weave of lighter lines) over rows
// y0..y1 across the face box widened by half its width.
func band(m gocv.Mat, f Face, y0, y1 int) gocv.Mat {
	out := m.Clone()
	w := f.Rect.Dx()
	r := image.Rect(f.Rect.Min.X-w/2, y0, f.Rect.Max.X+w/2, y1).Intersect(image.Rect(0, 0, m.Cols(), m.Rows()))
	gocv.Rectangle(&out, r, color.RGBA{110, 50, 30, 0}, -1)
	for y := r.Min.Y; y < r.Max.Y; y += 6 {
		gocv.Line(&out, image.Pt(r.Min.X, y), image.Pt(r.Max.X, y), color.RGBA{140, 80, 60, 0}, 1)
	}
	return out
}

func TestOFIQRotatedFacesFound(t *testing.T) {
	a := assessor(t)
	luda := decodeFace(t, "luda.jpg")
	defer luda.Close()
	base := mustAssess(t, a, luda)
	for _, deg := range []float64{-30, -20, 20, 30} {
		m := rotated(luda, deg)
		rep, err := a.Assess(m)
		m.Close()
		if err != nil {
			t.Errorf("rotated %g°: %v", deg, err)
			continue
		}
		got := rep.Pose.Roll - base.Pose.Roll
		if math.Abs(got-deg) > 3 {
			t.Errorf("rotated %g°: roll changed by %.2f°, want within 3°", deg, got)
		}
		if roll := measure(t, rep, HeadPoseRoll); roll.Pass || rep.Guidance.Key != GuideHeadStraight && rep.Guidance.Cause == SingleFacePresent {
			t.Errorf("rotated %g°: roll %+v, guidance %s", deg, roll, rep.Guidance.Key)
		}
	}
}

func TestOFIQMirroredYaw(t *testing.T) {
	a := assessor(t)
	for _, name := range []string{"bona.jpg", "luda.jpg", "nayoung.jpg"} {
		m := decodeFace(t, name)
		mir := gocv.NewMat()
		gocv.Flip(m, &mir, 1)
		r1, r2 := mustAssess(t, a, m), mustAssess(t, a, mir)
		m.Close()
		mir.Close()
		if s := r1.Pose.Yaw + r2.Pose.Yaw; math.Abs(s) > 2 || math.Abs(r1.Pose.Yaw) < 1 {
			t.Errorf("%s: yaw %.2f°, mirrored %.2f°: want opposite within 2°", name, r1.Pose.Yaw, r2.Pose.Yaw)
		}
		if s := r1.Pose.Roll + r2.Pose.Roll; math.Abs(s) > 2 {
			t.Errorf("%s: roll %.2f°, mirrored %.2f°", name, r1.Pose.Roll, r2.Pose.Roll)
		}
	}
}

func TestOFIQCoveredFacesFound(t *testing.T) {
	a := assessor(t)
	for _, name := range []string{"luda.jpg", "nayoung.jpg", "sejeong.jpg"} {
		m := decodeFace(t, name)
		base := mustAssess(t, a, m)
		s := base.Face.Shape
		tm := s.tMetric()
		// A head covering: everything from above the head down to the top of the eyebrows
		// (the face's upper third).
		brow := int(math.Min(s[19].Y, s[24].Y) - 0.05*tm)
		top := band(m, *base.Face, max(0, brow-int(1.5*tm)), brow)
		// A scarf over mouth and chin: from just below the nose to well below the chin.
		scarf := band(m, *base.Face, int(s[shNoseBase].Y+0.08*tm), int(s[shChin].Y+0.5*tm))
		for _, v := range []struct {
			name string
			img  gocv.Mat
		}{{"head band", top}, {"scarf", scarf}} {
			rep, err := a.Assess(v.img)
			v.img.Close()
			if err != nil || len(rep.Faces) != 1 {
				t.Errorf("%s with %s: %v (%d faces)", name, v.name, err, len(rep.Faces))
				continue
			}
			if d := dist(mean(rep.Eyes[0], rep.Eyes[1]), mean(base.Eyes[0], base.Eyes[1])); d > 0.25*dist(base.Eyes[0], base.Eyes[1]) {
				t.Errorf("%s with %s: eyes moved by %.1f px", name, v.name, d)
			}
			if rep.Guidance.Key == GuideNoFace {
				t.Errorf("%s with %s: guidance says no face", name, v.name)
			}
		}
		m.Close()
	}
}

func TestOFIQTwoFaces(t *testing.T) {
	a := assessor(t)
	x, y := decodeFace(t, "sejeong.jpg"), decodeFace(t, "luda.jpg")
	defer x.Close()
	defer y.Close()
	m := sideBySide(x, y)
	defer m.Close()
	rep := mustAssess(t, a, m)
	if len(rep.Faces) != 2 {
		t.Fatalf("composite of two photos: %d faces", len(rep.Faces))
	}
	if sf := measure(t, rep, SingleFacePresent); sf.Pass || rep.Guidance.Key != GuideOnePerson {
		t.Errorf("two faces: %+v, guidance %s", sf, rep.Guidance.Key)
	}
}

func TestOFIQEyesClosed(t *testing.T) {
	a := assessor(t)
	for _, name := range []string{"luda.jpg", "nana.jpg", "chaeyoung2.jpg"} {
		m := decodeFace(t, name)
		base := mustAssess(t, a, m)
		if eo := measure(t, base, EyesOpen); !eo.Pass {
			t.Errorf("%s: open eyes fail EyesOpen: %+v", name, eo)
		}
		c := closedEyes(m, base.Face.Shape)
		rep := mustAssess(t, a, c)
		c.Close()
		m.Close()
		t.Logf("%s: EyesOpen open %.4f, painted lids %.4f", name, measure(t, base, EyesOpen).Raw, measure(t, rep, EyesOpen).Raw)
		if eo := measure(t, rep, EyesOpen); eo.Pass {
			t.Errorf("%s with painted lids: EyesOpen passes: %+v (open: %.4f)", name, eo, measure(t, base, EyesOpen).Raw)
		}
	}
}

func TestOFIQMouthOpen(t *testing.T) {
	a := assessor(t)
	for _, name := range []string{"luda.jpg", "rena.jpg", "chaeyoung2.jpg"} {
		m := decodeFace(t, name)
		base := mustAssess(t, a, m)
		if mc := measure(t, base, MouthClosed); !mc.Pass {
			t.Errorf("%s: closed mouth fails MouthClosed: %+v", name, mc)
		}
		o := openMouth(m, base.Face.Shape)
		rep := mustAssess(t, a, o)
		o.Close()
		m.Close()
		t.Logf("%s: MouthClosed closed %.4f, opened %.4f", name, measure(t, base, MouthClosed).Raw, measure(t, rep, MouthClosed).Raw)
		if mc := measure(t, rep, MouthClosed); mc.Pass {
			t.Errorf("%s opened: MouthClosed passes: %+v (closed: %.4f)", name, mc, measure(t, base, MouthClosed).Raw)
		}
	}
}
