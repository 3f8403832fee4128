package biometrics

import (
	"image"
	"testing"
)

// synthetic builds a one-face report in which the given measures fail (with raw values)
// and every other measure passes.
func synthetic(fail map[MeasureID]float64) *Report {
	th := DefaultThresholds()
	r := fakeReport(true, 80, 640, 330, 120)
	for _, id := range []MeasureID{SingleFacePresent, InterEyeDistance, HeadSize, LeftwardCropOfTheFaceImage, RightwardCropOfTheFaceImage,
		MarginAboveOfTheFaceImage, MarginBelowOfTheFaceImage, HeadPoseYaw, HeadPosePitch, HeadPoseRoll, EyesOpen, MouthClosed, Sharpness,
		LuminanceMean, LuminanceVariance, UnderExposurePrevention, OverExposurePrevention, DynamicRange, IlluminationUniformity,
		BackgroundUniformity, NaturalColour} {
		raw, bad := fail[id]
		r.add(th, Measure{ID: id, Raw: raw, Pass: !bad, Score: map[bool]int{true: 20, false: 90}[bad]})
	}
	r.finish(th)
	return r
}

func TestGuidance(t *testing.T) {
	for _, tc := range []struct {
		fail map[MeasureID]float64
		want string
	}{
		{nil, GuideGood},
		{map[MeasureID]float64{SingleFacePresent: 2, InterEyeDistance: 50}, GuideOnePerson},
		{map[MeasureID]float64{InterEyeDistance: 60, HeadPoseYaw: 20}, GuideMoveCloser},
		{map[MeasureID]float64{HeadSize: 0.1}, GuideMoveCloser},
		{map[MeasureID]float64{HeadSize: 0.9}, GuideMoveBack},
		{map[MeasureID]float64{MarginAboveOfTheFaceImage: 1, MarginBelowOfTheFaceImage: 1}, GuideMoveBack},
		{map[MeasureID]float64{LeftwardCropOfTheFaceImage: 1, HeadPoseRoll: 20}, GuideMoveLeft},
		{map[MeasureID]float64{RightwardCropOfTheFaceImage: 1}, GuideMoveRight},
		{map[MeasureID]float64{MarginAboveOfTheFaceImage: 1}, GuideMoveDown},
		{map[MeasureID]float64{MarginBelowOfTheFaceImage: 1}, GuideMoveUp},
		{map[MeasureID]float64{HeadPoseYaw: 12, Sharpness: 10}, GuideTurnRight},
		{map[MeasureID]float64{HeadPoseYaw: -12}, GuideTurnLeft},
		{map[MeasureID]float64{HeadPosePitch: 12}, GuideChinUp}, // mandatory again (issue 13)
		{map[MeasureID]float64{MouthClosed: 0.3, Sharpness: 10}, GuideCloseMouth},
		{map[MeasureID]float64{HeadPoseRoll: 15, Sharpness: 10}, GuideHeadStraight},
		{map[MeasureID]float64{EyesOpen: 1, Sharpness: 10}, GuideEyesOpen},
		{map[MeasureID]float64{Sharpness: 10, LuminanceMean: 0.1}, GuideHoldStill},
		{map[MeasureID]float64{LuminanceMean: 0.1}, GuideMoreLight},
		{map[MeasureID]float64{LuminanceMean: 0.95}, GuideLessLight},
		{map[MeasureID]float64{UnderExposurePrevention: 0.3}, GuideMoreLight},
		{map[MeasureID]float64{OverExposurePrevention: 0.3}, GuideLessLight},
		{map[MeasureID]float64{BackgroundUniformity: 60, NaturalColour: 9}, GuideGood}, // advisory
	} {
		r := synthetic(tc.fail)
		if r.Guidance.Key != tc.want {
			t.Errorf("failing %v: guidance %q, want %q", tc.fail, r.Guidance.Key, tc.want)
		}
		if r.Guidance.Text == "" || r.Guidance.Text != GuidanceText[r.Guidance.Key] {
			t.Errorf("%q has text %q", r.Guidance.Key, r.Guidance.Text)
		}
		if r.Pass != (r.Guidance.Key == GuideGood) {
			t.Errorf("failing %v: pass %v with guidance %q", tc.fail, r.Pass, r.Guidance.Key)
		}
	}
	// Pitch guides whichever way it fails.
	th := DefaultThresholds()
	r := fakeReport(true, 80, 640, 330, 120)
	r.add(th, Measure{ID: HeadPosePitch, Raw: -9, Pass: false})
	r.finish(th)
	if r.Guidance.Key != GuideChinDown {
		t.Errorf("mandatory pitch -9: %q", r.Guidance.Key)
	}
	for key := range map[string]bool{GuideNoFace: true, GuideLookAtCamera: true, GuideChinUp: true, GuideEvenLight: true, GuidePlainBack: true, GuideCheckColour: true} {
		if GuidanceText[key] == "" {
			t.Errorf("no text for %q", key)
		}
	}
}

// TestGuidancePortraitRoom: a long face (stretched vertically by 1.3, so the
// eye-to-chin length T is ~2.4 inter-eye distances instead of ~1.85) in a frame that
// ends below its eyes half-way between the room the former eye-distance crop needed
// (2.93 IED) and the room the crown–chin crop needs (1.375 T): the old limits passed the
// frame, and its portrait had the chin at the bottom edge. The margin below fails and
// the clerk is told to raise the head; the whole frame passes the margins.
func TestGuidancePortraitRoom(t *testing.T) {
	a := assessor(t)
	photo := decodeFace(t, "nayoung.jpg")
	long := stretched(photo, 1, 1.3)
	photo.Close()
	defer long.Close()
	rep := mustAssess(t, a, long)
	for _, id := range []MeasureID{MarginAboveOfTheFaceImage, MarginBelowOfTheFaceImage, LeftwardCropOfTheFaceImage, RightwardCropOfTheFaceImage} {
		if m := measure(t, rep, id); !m.Pass {
			t.Fatalf("whole stretched photo: %s fails: %+v", id, m)
		}
	}
	s := rep.Face.Shape
	l, r := s.ofiqEyes()
	tm, d := s.tMetric(), dist(l, r)
	oldRoom, newRoom := 2.93*d/tm, portraitRoomBelow
	if newRoom-oldRoom < 0.1 {
		t.Fatalf("test face: T = %.2f IED, too short to tell the crops apart", tm/d)
	}
	m := cropped(long, image.Rect(0, 0, long.Cols(), int(mean(l, r).Y+(oldRoom+newRoom)/2*tm)))
	defer m.Close()
	got := mustAssess(t, a, m)
	if mb := measure(t, got, MarginBelowOfTheFaceImage); mb.Pass || mb.Raw < oldRoom {
		t.Errorf("frame ending %.2f T below the eyes: MarginBelow %+v, want failing above the old limit %.2f", (oldRoom+newRoom)/2, mb, oldRoom)
	}
	if got.Guidance.Key != GuideMoveUp {
		t.Errorf("guidance %q, want %q (failed %v)", got.Guidance.Key, GuideMoveUp, got.Failed)
	}
}
