package biometrics

import (
	"fmt"
	"math"
	"testing"
)

func TestCropPortrait(t *testing.T) {
	a := assessor(t)
	bona := decodeFace(t, "bona.jpg")
	defer bona.Close()
	for _, deg := range []float64{0, 12} {
		src := rotated(bona, deg)
		rep := mustAssess(t, a, src)
		p, g, err := CropPortrait(src, *rep.Face, PortraitConfig{})
		src.Close()
		if err != nil {
			t.Fatal(err)
		}
		if p.Cols() != 600 || p.Rows() != 800 || g.Width != 600 || g.Height != 800 {
			t.Fatalf("portrait %dx%d", p.Cols(), p.Rows())
		}
		prep := mustAssess(t, a, p)
		if jpg, err := EncodeJPEG(p, 92); err != nil || len(jpg) < 1000 {
			t.Errorf("portrait JPEG: %d bytes, %v", len(jpg), err)
		}
		p.Close()
		if roll := measure(t, prep, HeadPoseRoll).Raw; math.Abs(roll) > 2 {
			t.Errorf("rotated %g°: portrait roll %.2f°, want level", deg, roll)
		}
		// The eye centres, not OFIQ's yaw-corrected InterEyeDistance, are 150 px apart.
		ied := math.Hypot(prep.Eyes[1].X-prep.Eyes[0].X, prep.Eyes[1].Y-prep.Eyes[0].Y)
		if math.Abs(ied-150) > 6 {
			t.Errorf("rotated %g°: portrait inter-eye %.1f, want 150", deg, ied)
		}
		mx, my := (prep.Eyes[0].X+prep.Eyes[1].X)/2, (prep.Eyes[0].Y+prep.Eyes[1].Y)/2
		if math.Abs(mx-300) > 5 || math.Abs(my-360) > 5 {
			t.Errorf("rotated %g°: eye midpoint (%.0f, %.0f), want (300, 360)", deg, mx, my)
		}
		for _, id := range []MeasureID{LeftwardCropOfTheFaceImage, RightwardCropOfTheFaceImage, MarginAboveOfTheFaceImage, MarginBelowOfTheFaceImage, SingleFacePresent} {
			// The portrait is exactly the token geometry, so the margins sit at their limits
			// (OFIQ's scores need not be 50 there: its mappings are not centred on our limits).
			if m := measure(t, prep, id); !m.Pass && !nearLimit(m) {
				t.Errorf("rotated %g°: portrait %s = %+v", deg, id, m)
			}
		}
		if g.Padded {
			t.Errorf("rotated %g°: bona.jpg has room for the portrait but it was padded", deg)
		}
	}
	if _, _, err := CropPortrait(bona, Face{}, PortraitConfig{}); err == nil {
		t.Error("portrait of a face without landmarks")
	}
	if _, _, err := CropPortrait(bona, Face{}, PortraitConfig{Width: 300}); err == nil {
		t.Error("portrait below 480 px wide")
	}
}

// nearLimit: a failing ">= x" measure within 4 % of its limit (the portrait's rounding).
func nearLimit(m Measure) bool {
	var lim float64
	if _, err := fmt.Sscanf(m.Limit, ">= %g", &lim); err != nil {
		return false
	}
	return m.Raw >= 0.96*lim
}
