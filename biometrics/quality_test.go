package biometrics

import (
	"encoding/json"
	"errors"
	"image"
	"math"
	"testing"

	"gocv.io/x/gocv"
)

func assessor(t testing.TB) *Assessor {
	a := NewAssessor(recognizer(t), DefaultConfig())
	t.Cleanup(a.Close)
	return a
}

func mustAssess(t testing.TB, a *Assessor, m gocv.Mat) *Report {
	t.Helper()
	rep, err := a.Assess(m)
	if err != nil {
		t.Fatalf("Assess: %v", err)
	}
	return rep
}

func measure(t testing.TB, r *Report, id MeasureID) Measure {
	t.Helper()
	m, ok := r.Measure(id)
	if !ok {
		t.Fatalf("no measure %s in report", id)
	}
	return m
}

func TestAssessReport(t *testing.T) {
	a := assessor(t)
	m := decodeFace(t, "bona.jpg")
	defer m.Close()
	rep := mustAssess(t, a, m)
	if len(rep.Faces) != 1 || rep.Subject != 0 || rep.Face == nil || rep.Template == nil {
		t.Fatalf("faces %d subject %d", len(rep.Faces), rep.Subject)
	}
	// OFIQ's InterEyeDistance undoes the yaw's foreshortening: the eye centres are about
	// 102 px apart in the image, bona.jpg is turned by about 30°.
	if d := math.Hypot(rep.Eyes[1].X-rep.Eyes[0].X, rep.Eyes[1].Y-rep.Eyes[0].Y); d < 92 || d > 112 {
		t.Errorf("bona.jpg eye centres %.1f px apart, expected about 102", d)
	}
	if ied, d := measure(t, rep, InterEyeDistance).Raw, math.Hypot(rep.Eyes[1].X-rep.Eyes[0].X, rep.Eyes[1].Y-rep.Eyes[0].Y); math.Abs(ied-d/math.Cos(rep.Pose.Yaw*math.Pi/180)) > 0.05*d {
		t.Errorf("bona.jpg inter-eye %.1f px, want %.1f / cos(yaw %.1f°)", ied, d, rep.Pose.Yaw)
	}
	for _, id := range []MeasureID{SingleFacePresent, InterEyeDistance, Sharpness, LuminanceMean, HeadPoseRoll, UnderExposurePrevention, OverExposurePrevention} {
		if mm := measure(t, rep, id); !mm.Pass || mm.Score < 50 {
			t.Errorf("%s fails on bona.jpg: %+v", id, mm)
		}
	}
	// Every measure is in the report, in a stable order, and survives JSON.
	want := []MeasureID{SingleFacePresent, InterEyeDistance, HeadSize, LeftwardCropOfTheFaceImage, RightwardCropOfTheFaceImage,
		MarginAboveOfTheFaceImage, MarginBelowOfTheFaceImage, HeadPoseYaw, HeadPosePitch, HeadPoseRoll,
		EyesOpen, MouthClosed, Sharpness, LuminanceMean, LuminanceVariance, UnderExposurePrevention, OverExposurePrevention,
		DynamicRange, IlluminationUniformity, BackgroundUniformity, NaturalColour}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Measures) != len(want) {
		t.Fatalf("%d measures after JSON, want %d", len(back.Measures), len(want))
	}
	for i, id := range want {
		if back.Measures[i].ID != id || back.Measures[i] != rep.Measures[i] {
			t.Errorf("measure %d: %+v, want %s = %+v", i, back.Measures[i], id, rep.Measures[i])
		}
		if s := back.Measures[i].Score; s < 0 || s > 100 {
			t.Errorf("%s score %d out of 0..100", id, s)
		}
	}
	for i, q := range rep.QualityVector() {
		if m := rep.Measures[i]; q.ID != m.ID || q.Raw != m.Raw || q.Score != m.Score {
			t.Errorf("quality vector %d: %+v for %+v", i, q, m)
		}
	}
	if back.Guidance.Key == "" || back.Guidance.Text == "" {
		t.Errorf("no guidance: %+v", back.Guidance)
	}
}

// The acceptance variants of issue 4, made from real photos with gocv.
func TestAssessVariants(t *testing.T) {
	a := assessor(t)
	bona := decodeFace(t, "bona.jpg")
	defer bona.Close()
	base := mustAssess(t, a, bona)
	L, R := base.Eyes[0], base.Eyes[1]
	d := math.Hypot(R.X-L.X, R.Y-L.Y)
	M := Point{(L.X + R.X) / 2, (L.Y + R.Y) / 2}

	t.Run("blur", func(t *testing.T) {
		m := blurred(bona, 0.06*d)
		defer m.Close()
		rep := mustAssess(t, a, m)
		if s := measure(t, rep, Sharpness); s.Pass {
			t.Errorf("blurred: Sharpness passes: %+v (sharp original %.1f)", s, measure(t, base, Sharpness).Raw)
		}
		if rep.Pass {
			t.Error("blurred image passes overall")
		}
	})
	t.Run("darken", func(t *testing.T) {
		m := exposed(bona, 0.3, 0)
		defer m.Close()
		rep := mustAssess(t, a, m)
		if lm := measure(t, rep, LuminanceMean); lm.Pass {
			t.Errorf("darkened: LuminanceMean passes: %+v", lm)
		}
		if dr, base := measure(t, rep, DynamicRange).Raw, measure(t, base, DynamicRange).Raw; dr >= base {
			t.Errorf("darkened: dynamic range %.2f bits, not below the original %.2f", dr, base)
		}
	})
	t.Run("brighten", func(t *testing.T) {
		m := exposed(bona, 1.4, 60)
		defer m.Close()
		rep := mustAssess(t, a, m)
		lm, oe := measure(t, rep, LuminanceMean), measure(t, rep, OverExposurePrevention)
		if lm.Pass || oe.Pass {
			t.Errorf("brightened: LuminanceMean %+v, OverExposure %+v; want both failing", lm, oe)
		}
	})
	for _, deg := range []float64{-15, -6, 10, 20} {
		m := rotated(bona, deg)
		rep := mustAssess(t, a, m)
		m.Close()
		got := measure(t, rep, HeadPoseRoll).Raw - measure(t, base, HeadPoseRoll).Raw
		if math.Abs(got-deg) > 3 {
			t.Errorf("rotated %g°: roll changed by %.2f°, want within 3°", deg, got)
		}
		if roll := measure(t, rep, HeadPoseRoll); roll.Pass != (math.Abs(roll.Raw) <= 8) {
			t.Errorf("rotated %g°: roll %+v pass flag wrong", deg, roll)
		}
	}
	t.Run("downscale", func(t *testing.T) {
		luda := decodeFace(t, "luda.jpg")
		defer luda.Close()
		full := measure(t, mustAssess(t, a, luda), InterEyeDistance)
		for _, f := range []float64{0.8, 0.6, 0.45} {
			m := scaled(luda, f)
			ied := measure(t, mustAssess(t, a, m), InterEyeDistance)
			m.Close()
			if math.Abs(ied.Raw-f*full.Raw) > 0.05*f*full.Raw {
				t.Errorf("scale %g: inter-eye %.1f, want %.1f ± 5%%", f, ied.Raw, f*full.Raw)
			}
			if ied.Pass != (ied.Raw >= 90) {
				t.Errorf("scale %g: inter-eye %.1f pass=%v", f, ied.Raw, ied.Pass)
			}
		}
		m := scaled(luda, 0.45)
		defer m.Close()
		if rep := mustAssess(t, a, m); measure(t, rep, InterEyeDistance).Pass || rep.Guidance.Key != GuideMoveCloser {
			t.Errorf("scale 0.45: inter-eye %+v, guidance %s; want fail and move_closer", measure(t, rep, InterEyeDistance), rep.Guidance.Key)
		}
	})
	t.Run("two people", func(t *testing.T) {
		other := decodeFace(t, "luda.jpg")
		defer other.Close()
		m := sideBySide(bona, other)
		defer m.Close()
		rep := mustAssess(t, a, m)
		// OFIQ's raw value is sqrt(second face's box area / first's): about 0.8 here.
		if sf := measure(t, rep, SingleFacePresent); sf.Pass || len(rep.Faces) != 2 || sf.Raw < 0.5 || rep.Pass || rep.Guidance.Key != GuideOnePerson {
			t.Errorf("side by side: %+v, guidance %s", sf, rep.Guidance.Key)
		}
	})
	t.Run("crop left", func(t *testing.T) {
		m := cropped(bona, image.Rect(int(L.X-0.7*d), 0, bona.Cols(), bona.Rows()))
		defer m.Close()
		rep := mustAssess(t, a, m)
		if lc := measure(t, rep, LeftwardCropOfTheFaceImage); lc.Pass {
			t.Errorf("cropped at the left eye: %+v", lc)
		}
		if rc := measure(t, rep, RightwardCropOfTheFaceImage); !rc.Pass {
			t.Errorf("right side untouched but fails: %+v", rc)
		}
	})
	t.Run("crop top and bottom", func(t *testing.T) {
		m := cropped(bona, image.Rect(0, int(M.Y-0.8*d), bona.Cols(), int(M.Y+1.9*d)))
		defer m.Close()
		rep := mustAssess(t, a, m)
		if ma, mb := measure(t, rep, MarginAboveOfTheFaceImage), measure(t, rep, MarginBelowOfTheFaceImage); ma.Pass || mb.Pass {
			t.Errorf("cropped above the eyebrows and below the chin: above %+v below %+v", ma, mb)
		}
		if rep.Guidance.Key != GuideMoveBack {
			t.Errorf("guidance %s, want move_back", rep.Guidance.Key)
		}
	})
	t.Run("grey and PNG", func(t *testing.T) {
		g := greyed(bona)
		defer g.Close()
		rep := mustAssess(t, a, g)
		if nc := measure(t, rep, NaturalColour); nc.Pass {
			t.Errorf("grey image has natural colour: %+v", nc)
		}
		png, err := EncodePNG(g)
		if err != nil {
			t.Fatal(err)
		}
		rep2, err := a.AssessBytes(png)
		if err != nil || len(rep2.Faces) != 1 {
			t.Fatalf("grey PNG: %v", err)
		}
		if d := math.Abs(measure(t, rep2, InterEyeDistance).Raw - measure(t, base, InterEyeDistance).Raw); d > 2 {
			t.Errorf("grey PNG inter-eye differs from colour JPEG by %.1f px", d)
		}
	})
}

func TestAssessNoFace(t *testing.T) {
	a := assessor(t)
	blank := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), 480, 640, gocv.MatTypeCV8UC3)
	defer blank.Close()
	rep, err := a.Assess(blank)
	if !errors.Is(err, ErrNoFace) {
		t.Fatalf("blank image: got %v, want ErrNoFace", err)
	}
	if rep == nil || rep.Pass || rep.Guidance.Key != GuideNoFace || rep.Subject != -1 {
		t.Fatalf("blank image report: %+v", rep)
	}
	if _, err := a.Assess(gocv.NewMat()); !errors.Is(err, ErrImageEmpty) {
		t.Fatalf("empty Mat: got %v, want ErrImageEmpty", err)
	}
}

// LiveConfig analyses camera frames at 960 px; geometry stays in input pixels and close
// to the full-resolution analysis.
func TestLiveConfig(t *testing.T) {
	full, live := assessor(t), NewAssessor(recognizer(t), LiveConfig())
	defer live.Close()
	for _, name := range []string{"rena.jpg", "luda.jpg"} {
		f := frame720(t, name)
		a, b := mustAssess(t, full, f), mustAssess(t, live, f)
		f.Close()
		if b.Scale != 0.75 {
			t.Errorf("%s: live scale %v, want 0.75", name, b.Scale)
		}
		ia, ib := measure(t, a, InterEyeDistance).Raw, measure(t, b, InterEyeDistance).Raw
		if math.Abs(ia-ib) > 0.04*ia {
			t.Errorf("%s: inter-eye %.1f at 1280, %.1f at 960", name, ia, ib)
		}
		if ra, rb := measure(t, a, HeadPoseRoll).Raw, measure(t, b, HeadPoseRoll).Raw; math.Abs(ra-rb) > 2 {
			t.Errorf("%s: roll %.1f at 1280, %.1f at 960", name, ra, rb)
		}
	}
}

func TestZeroConfigMeansDefaults(t *testing.T) {
	a := NewAssessor(recognizer(t), Config{})
	defer a.Close()
	if c := a.Config(); c.MaxSide != 1280 || c.Thresholds.MinInterEye != 90 || len(c.Thresholds.Advisory) == 0 {
		t.Fatalf("zero Config became %+v", c)
	}
}

// The Haar eye cascade finds open eyes and not a closed lid: bona.jpg winks with the eye
// on the image's left; the others (one with glasses) look with both eyes open.
func TestEyesOpen(t *testing.T) {
	a := assessor(t)
	for _, tc := range []struct {
		name string
		open bool
	}{
		{"bona.jpg", false}, {"eunwoo.jpg", true}, {"rena.jpg", true}, {"luda.jpg", true}, {"nayoung.jpg", true}, {"joy.jpg", true},
	} {
		m := decodeFace(t, tc.name)
		rep := mustAssess(t, a, m)
		m.Close()
		if eo := measure(t, rep, EyesOpen); eo.Pass != tc.open {
			t.Errorf("%s: %+v, want open %v", tc.name, eo, tc.open)
		}
	}
}

// The defaults are ISO/IEC 39794-5's head-pose limits (±5° yaw and pitch, ±8° roll):
// sejeong.jpg, turned about 6°, fails HeadPoseYaw by default and passes once a station
// widens yaw to 10° (as enroll.DemoQuality does).
func TestDefaultPoseLimitsAreISO(t *testing.T) {
	th := DefaultThresholds()
	if th.MaxYaw != 5 || th.MaxPitch != 5 || th.MaxRoll != 8 {
		t.Fatalf("default pose limits %g/%g/%g, want ISO's 5/5/8", th.MaxYaw, th.MaxPitch, th.MaxRoll)
	}
	m := decodeFace(t, "sejeong.jpg")
	defer m.Close()
	rep := mustAssess(t, assessor(t), m)
	if y := measure(t, rep, HeadPoseYaw); y.Pass || math.Abs(y.Raw) <= 5 || math.Abs(y.Raw) > 10 {
		t.Errorf("sejeong.jpg yaw %.1f° pass %v under the defaults, want a fail between 5° and 10°", y.Raw, y.Pass)
	}
	cfg := DefaultConfig()
	cfg.Thresholds.MaxYaw = 10
	if y := measure(t, mustAssess(t, NewAssessor(recognizer(t), cfg), m), HeadPoseYaw); !y.Pass {
		t.Errorf("sejeong.jpg yaw %.1f° fails with MaxYaw 10", y.Raw)
	}
}
