package capture

import (
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// variant derives a changed copy of a photo; the caller owns the result.
type variant func(src gocv.Mat) gocv.Mat

func blurred(src gocv.Mat) gocv.Mat {
	dst := gocv.NewMat()
	gocv.GaussianBlur(src, &dst, image.Pt(0, 0), 3, 3, gocv.BorderDefault)
	return dst
}

func darkened(src gocv.Mat) gocv.Mat {
	dst := gocv.NewMat()
	src.ConvertToWithParams(&dst, gocv.MatTypeCV8UC3, 0.25, -10)
	return dst
}

// warm and cool scale blue and red like a camera with a wrong white balance.
func warm(src gocv.Mat) gocv.Mat { return scaleBR(src, 0.75, 1.15) }
func cool(src gocv.Mat) gocv.Mat { return scaleBR(src, 1.15, 0.75) }

func scaleBR(src gocv.Mat, b, r float64) gocv.Mat {
	ch := gocv.Split(src)
	ch[0].ConvertToWithParams(&ch[0], gocv.MatTypeCV8U, float32(b), 0)
	ch[2].ConvertToWithParams(&ch[2], gocv.MatTypeCV8U, float32(r), 0)
	dst := gocv.NewMat()
	gocv.Merge(ch, &dst)
	for _, c := range ch {
		c.Close()
	}
	return dst
}

func noisy(src gocv.Mat) gocv.Mat {
	n := gocv.NewMatWithSize(src.Rows(), src.Cols(), gocv.MatTypeCV16SC3)
	defer n.Close()
	gocv.RandN(&n, gocv.NewScalar(0, 0, 0, 0), gocv.NewScalar(12, 12, 12, 0))
	s16 := gocv.NewMat()
	defer s16.Close()
	src.ConvertTo(&s16, gocv.MatTypeCV16SC3)
	gocv.Add(s16, n, &s16)
	dst := gocv.NewMat()
	s16.ConvertTo(&dst, gocv.MatTypeCV8UC3)
	return dst
}

func mustMeasure(t *testing.T, m gocv.Mat) Measures {
	t.Helper()
	got, err := Measure(m)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestMeasuresMoveTheRightWay: on real photos, each degradation moves its measure in
// the expected direction.
func TestMeasuresMoveTheRightWay(t *testing.T) {
	for _, photo := range []string{"bona.jpg", "joy.jpg", "seulgi.jpg", "nayoung.jpg"} {
		t.Run(photo, func(t *testing.T) {
			img := loadPhoto(t, photo)
			defer img.Close()
			base := mustMeasure(t, img)
			t.Logf("%-8s %+v", "original", base)
			for _, tc := range []struct {
				name  string
				make  variant
				check func(base, got Measures) bool
			}{
				{"blurred", blurred, func(b, g Measures) bool {
					return g.Sharpness < b.Sharpness/2 && g.SharpnessNorm < b.SharpnessNorm/2 && g.Noise < b.Noise
				}},
				{"darkened", darkened, func(b, g Measures) bool {
					return g.DarkClip > b.DarkClip+0.05 && g.MeanLuma < b.MeanLuma/2 && g.DynamicRange < b.DynamicRange
				}},
				// A photo may already lean warm or cool: the shift must move b* its way,
				// and the shift that pushes the existing lean further must enlarge the cast.
				{"warm", warm, func(b, g Measures) bool {
					return g.CastB > b.CastB+4 && (b.CastB < 0 || g.Cast > b.Cast+3)
				}},
				{"cool", cool, func(b, g Measures) bool {
					return g.CastB < b.CastB-4 && (b.CastB >= 0 || g.Cast > b.Cast+3)
				}},
				{"noisy", noisy, func(b, g Measures) bool { return g.Noise > b.Noise+5 }},
			} {
				v := tc.make(img)
				got := mustMeasure(t, v)
				v.Close()
				t.Logf("%-8s %+v", tc.name, got)
				if !tc.check(base, got) {
					t.Errorf("%s: measures did not move as expected:\n base %+v\n got  %+v", tc.name, base, got)
				}
			}
		})
	}
}

// TestMeasureSynthetic checks measures against images whose values are known exactly.
func TestMeasureSynthetic(t *testing.T) {
	flat := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), 100, 120, gocv.MatTypeCV8UC3)
	defer flat.Close()
	m := mustMeasure(t, flat)
	if m.MeanLuma != 128 || m.Sharpness != 0 || m.Noise != 0 || m.DarkClip != 0 || m.BrightClip != 0 || m.DynamicRange != 0 || m.Cast > 0.01 || m.NeutralShare != 1 {
		t.Errorf("flat grey: %+v", m)
	}
	half := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(0, 0, 0, 0), 100, 100, gocv.MatTypeCV8UC1)
	defer half.Close()
	top := half.Region(image.Rect(0, 0, 100, 50))
	top.SetTo(gocv.NewScalar(255, 0, 0, 0))
	top.Close()
	m = mustMeasure(t, half)
	if m.DarkClip != 0.5 || m.BrightClip != 0.5 || m.MeanLuma != 127.5 || m.DynamicRange != 255 {
		t.Errorf("half black, half white: %+v", m)
	}
}

func TestMeasureRegion(t *testing.T) {
	img := loadPhoto(t, "bona.jpg")
	defer img.Close()
	// Black out the left half: the right half's region must not see it.
	left := img.Region(image.Rect(0, 0, img.Cols()/2, img.Rows()))
	left.SetTo(gocv.NewScalar(0, 0, 0, 0))
	left.Close()
	whole := mustMeasure(t, img)
	right, err := MeasureRegion(img, image.Rect(img.Cols()/2, 0, img.Cols()+500, img.Rows()))
	if err != nil {
		t.Fatal(err)
	}
	if right.Width != img.Cols()-img.Cols()/2 || right.DarkClip >= whole.DarkClip || right.MeanLuma <= whole.MeanLuma {
		t.Errorf("region %+v vs whole %+v", right, whole)
	}
	if _, err := MeasureRegion(img, image.Rect(-10, -10, 2, 2)); err == nil {
		t.Error("tiny region accepted")
	}
	empty := gocv.NewMat()
	defer empty.Close()
	if _, err := Measure(empty); err == nil {
		t.Error("empty image accepted")
	}
	f := gocv.NewMatWithSize(20, 20, gocv.MatTypeCV32F)
	defer f.Close()
	if _, err := Measure(f); err == nil {
		t.Error("float image accepted")
	}
}

// TestSharpnessNormIsResolutionIndependent: the same scene at different camera
// resolutions gives about the same normalised sharpness, while the native variance of
// the Laplacian moves a lot.
func TestSharpnessNormIsResolutionIndependent(t *testing.T) {
	img := loadPhoto(t, "bona.jpg")
	defer img.Close()
	at := func(w, h int) Measures {
		m := gocv.NewMat()
		defer m.Close()
		gocv.Resize(img, &m, image.Pt(w, h), 0, 0, gocv.InterpolationCubic)
		return mustMeasure(t, m)
	}
	ref := at(1280, 720)
	for _, sz := range []image.Point{{1920, 1080}, {2560, 1440}} {
		m := at(sz.X, sz.Y)
		raw, norm := m.Sharpness/ref.Sharpness, m.SharpnessNorm/ref.SharpnessNorm
		t.Logf("%v vs 1280x720: native ratio %.2f, normalised ratio %.2f", sz, raw, norm)
		if !(norm > 0.8 && norm < 1.25) || raw > 0.7 {
			t.Errorf("%v: native ratio %.2f, normalised %.2f; want the normalised one near 1 and the native one far below", sz, raw, norm)
		}
	}
}

func TestEvaluate(t *testing.T) {
	th := DefaultThresholds()
	good := Measures{SharpnessNorm: 200, MeanLuma: 120, DarkClip: 0.01, BrightClip: 0.01, DynamicRange: 200, Cast: 2, Noise: 2}
	if v := th.Evaluate(good); !v.Pass || len(v.Checks) != 8 {
		t.Errorf("good frame: %+v", v)
	}
	bad := good
	bad.MeanLuma, bad.DarkClip = 40, 0.3
	v := th.Evaluate(bad)
	var failed []string
	for _, c := range v.Checks {
		if !c.Pass {
			failed = append(failed, c.Name)
		}
	}
	if v.Pass || len(failed) != 2 || failed[0] != "mean luminance (min)" || failed[1] != "dark clipping" {
		t.Errorf("dark frame: pass %v, failed %v", v.Pass, failed)
	}
	if v := (Thresholds{}).Evaluate(bad); !v.Pass || len(v.Checks) != 0 {
		t.Errorf("no thresholds: %+v", v)
	}
}

func TestMedianMeasures(t *testing.T) {
	ms := []Measures{{MeanLuma: 10, CastA: 3, CastB: 4}, {MeanLuma: 200, CastA: 3, CastB: 4}, {MeanLuma: 12, CastA: 30, CastB: 40}}
	m := MedianMeasures(ms)
	if m.MeanLuma != 12 || m.Cast != 5 {
		t.Errorf("median %+v", m)
	}
	if m := MedianMeasures(ms[:2]); m.MeanLuma != 105 {
		t.Errorf("even median %v", m.MeanLuma)
	}
	if m := MedianMeasures(nil); m != (Measures{}) {
		t.Errorf("empty: %+v", m)
	}
}

func TestLumaHistogram(t *testing.T) {
	img := loadPhoto(t, "bona.jpg")
	defer img.Close()
	h, err := LumaHistogram(img)
	if err != nil {
		t.Fatal(err)
	}
	var sum, mean float64
	for i, v := range h {
		sum += v
		mean += float64(i) * v
	}
	m := mustMeasure(t, img)
	if len(h) != 256 || sum < 0.9999 || sum > 1.0001 || mean < m.MeanLuma-0.01 || mean > m.MeanLuma+0.01 {
		t.Errorf("histogram: %d bins, sum %v, mean %v (Measure says %v)", len(h), sum, mean, m.MeanLuma)
	}
	empty := gocv.NewMat()
	defer empty.Close()
	if _, err := LumaHistogram(empty); err == nil {
		t.Error("empty image accepted")
	}
}
