package biometrics

import (
	"fmt"
	"math"

	"gocv.io/x/gocv"
)

// measureFace computes every measure for faces[subj] found in work (the analysed image,
// scale × the input size; faces in work's pixels). Definitions follow OFIQ
// (OFIQlib/modules/measures); docs/quality.md says where and why ours differ.
func measureFace(rep *Report, th Thresholds, work gocv.Mat, faces []Face, subj int, scale float64) error {
	f := faces[subj]
	s := f.Shape
	W, H := float64(work.Cols()), float64(work.Rows())

	// SingleFacePresent: f = sqrt(a2/a1), the two largest detection boxes' areas.
	a1, a2 := 0.0, 0.0
	for _, g := range faces {
		a := float64(area(g.Rect))
		if a > a1 {
			a1, a2 = a, a1
		} else if a > a2 {
			a2 = a
		}
	}
	sf := 0.0
	if len(faces) > 1 && a1 > 0 {
		sf = math.Sqrt(a2 / a1)
	}
	rep.add(th, Measure{ID: SingleFacePresent, Raw: sf, Score: scoreSingleFace(sf), Pass: sf <= th.MaxSecondFace, Limit: fmt.Sprintf("<= %g", th.MaxSecondFace), Detail: fmt.Sprintf("%d faces", len(faces))})

	ps := s
	if f.poseShape != nil {
		ps = f.poseShape
	}
	pose, err := headPose(ps, work.Cols(), work.Rows())
	if err != nil {
		return fmt.Errorf("biometrics: head pose: %w", err)
	}
	// Roll from the eye line (OFIQ's eye centres: the corners, which a closed or winking
	// lid does not move), not the PnP fit: it is exact under image rotation and, with
	// OFIQ's sign (counter-clockwise > 0), agreed with OFIQ before; yaw and pitch need the
	// 3-D fit.
	pose.Roll = rollOf(s)
	rep.Pose = HeadPose{Yaw: round(pose.Yaw, 2), Pitch: round(pose.Pitch, 2), Roll: round(pose.Roll, 2)}

	L, R := s.ofiqEyes()
	M := mean(L, R)
	d := dist(L, R)
	t := s.tMetric()

	// InterEyeDistance: OFIQ divides by cos(yaw) to undo foreshortening.
	ied := d / scale / math.Cos(pose.Yaw*math.Pi/180)
	rep.add(th, Measure{ID: InterEyeDistance, Raw: ied, Score: mapInterEye.score(ied), Pass: ied >= th.MinInterEye, Unit: "px", Limit: fmt.Sprintf(">= %g", th.MinInterEye)})

	hs := t / H
	rep.add(th, Measure{ID: HeadSize, Raw: hs, Score: mapHeadSize.score(math.Abs(hs - 0.45)), Pass: hs >= th.MinHeadSize && hs <= th.MaxHeadSize, Unit: "eye-chin / height", Limit: fmt.Sprintf("%g..%g", th.MinHeadSize, th.MaxHeadSize)})

	// Leftward crop: from the left border to the image-right (farther) eye; rightward
	// likewise; margins above and below the eye midpoint in units of T.
	add := func(id MeasureID, raw, limit float64, m sigmoid, unit string) {
		rep.add(th, Measure{ID: id, Raw: raw, Score: m.score(raw), Pass: raw >= limit, Unit: unit, Limit: fmt.Sprintf(">= %g", round(limit, 2))})
	}
	// The limits are in T from the eye midpoint (the room the portrait crop needs); the
	// side crops run to the farther eye in IED, so their limit gains half an IED.
	side := th.MinSideMargin*t/d + 0.5
	add(LeftwardCropOfTheFaceImage, R.X/d, side, mapSideCrop, "IED")
	add(RightwardCropOfTheFaceImage, (W-L.X)/d, side, mapSideCrop, "IED")
	add(MarginAboveOfTheFaceImage, M.Y/t, th.MinMarginAbove, mapMarginAbove, "T")
	add(MarginBelowOfTheFaceImage, (H-M.Y)/t, th.MinMarginBelow, mapMarginBelow, "T")

	angle := func(id MeasureID, raw, limit float64) {
		rep.add(th, Measure{ID: id, Raw: raw, Score: scorePose(raw), Pass: math.Abs(raw) <= limit, Unit: "deg", Limit: fmt.Sprintf("|x| <= %g", limit)})
	}
	angle(HeadPoseYaw, pose.Yaw, th.MaxYaw)
	angle(HeadPosePitch, pose.Pitch, th.MaxPitch)
	angle(HeadPoseRoll, pose.Roll, th.MaxRoll)

	// EyesOpen: the smaller eye's largest lid opening over T; MouthClosed: the largest
	// inner-lip opening over T.
	eo := math.Min(s.maxPair(leftEyePairs), s.maxPair(rightEyePairs)) / t
	rep.add(th, Measure{ID: EyesOpen, Raw: eo, Score: mapEyesOpen.score(eo), Pass: eo >= th.MinEyesOpen, Unit: "lid gap / T", Limit: fmt.Sprintf(">= %g", th.MinEyesOpen)})
	mo := s.maxPair(innerLipPairs) / t
	rep.add(th, Measure{ID: MouthClosed, Raw: mo, Score: mapMouthClosed.score(mo), Pass: mo <= th.MaxMouthOpen, Unit: "lip gap / T", Limit: fmt.Sprintf("<= %g", th.MaxMouthOpen)})

	grey := gocv.NewMat()
	defer grey.Close()
	gocv.CvtColor(work, &grey, gocv.ColorBGRToGray)
	// The inner face for the classical measures: eyebrows to mouth, cheek to cheek.
	faceR := innerFace(M, d, work.Cols(), work.Rows(), f)

	sharp := sharpness(grey, faceR, d)
	rep.add(th, Measure{ID: Sharpness, Raw: sharp, Score: scoreAbove(sharp, 0, th.MinSharpness, 3*th.MinSharpness), Pass: sharp >= th.MinSharpness, Limit: fmt.Sprintf(">= %g", th.MinSharpness), Detail: "variance of the Laplacian (not OFIQ's random forest)"})

	// OFIQ's luminance measures work on the aligned face, in linear light, over the
	// convex hull of the landmarks.
	al, err := alignFace(work, s)
	if err != nil {
		return err
	}
	lm := al.luminance()
	lumDetail := "linear-light luminance of the landmark hull (aligned face)"
	rep.add(th, Measure{ID: LuminanceMean, Raw: lm.mean, Score: scoreLuminanceMean(lm.mean), Pass: lm.mean >= th.MinLuminance && lm.mean <= th.MaxLuminance, Limit: fmt.Sprintf("%g..%g", th.MinLuminance, th.MaxLuminance), Detail: lumDetail})
	rep.add(th, Measure{ID: LuminanceVariance, Raw: lm.variance, Score: scoreLuminanceVariance(lm.variance), Pass: lm.variance >= th.MinLuminanceVariance, Limit: fmt.Sprintf(">= %g", th.MinLuminanceVariance), Detail: lumDetail})
	rep.add(th, Measure{ID: UnderExposurePrevention, Raw: lm.under, Score: mapUnderExposed.score(lm.under), Pass: lm.under <= th.MaxUnderExposed, Unit: "fraction", Limit: fmt.Sprintf("<= %g", th.MaxUnderExposed), Detail: "face pixels with linear luminance <= 25/255 (no occlusion mask)"})
	rep.add(th, Measure{ID: OverExposurePrevention, Raw: lm.over, Score: scoreOverExposure(lm.over), Pass: lm.over <= th.MaxOverExposed, Unit: "fraction", Limit: fmt.Sprintf("<= %g", th.MaxOverExposed), Detail: "face pixels with linear luminance >= 247/255 (no occlusion mask)"})

	st := lumStats(grey, faceR, int(M.X))
	rep.add(th, Measure{ID: DynamicRange, Raw: st.entropy, Score: scoreDynamicRange(st.entropy), Pass: st.entropy >= th.MinDynamicRange, Unit: "bits", Limit: fmt.Sprintf(">= %g", th.MinDynamicRange)})

	iu, left, right := al.illuminationUniformity()
	rep.add(th, Measure{ID: IlluminationUniformity, Raw: iu, Score: scoreIllumination(iu), Pass: iu >= th.MinIlluminationUniformity, Limit: fmt.Sprintf(">= %g", th.MinIlluminationUniformity), Detail: fmt.Sprintf("histogram intersection of the cheek zones (mean %.3f | %.3f)", left, right)})
	al.close()

	bg, ok := background(grey, M, d)
	bm := Measure{ID: BackgroundUniformity, Raw: bg, Score: scoreBelow(bg, 0, th.MaxBackgroundStdDev, 3*th.MaxBackgroundStdDev), Pass: bg <= th.MaxBackgroundStdDev, Unit: "stddev", Limit: fmt.Sprintf("<= %g", th.MaxBackgroundStdDev), Detail: "luminance spread beside and above the head (not OFIQ's gradient measure)"}
	if !ok {
		bm.Raw, bm.Score, bm.Pass, bm.Detail = 0, 0, false, "no background visible beside or above the head"
	}
	rep.add(th, bm)

	a, b := skinLab(work, L, R, d)
	dst := boxDistance(a, b, th.SkinAMin, th.SkinAMax, th.SkinBMin, th.SkinBMax)
	rep.add(th, Measure{ID: NaturalColour, Raw: dst, Score: mapNaturalColor.score(dst), Pass: dst == 0, Unit: "a*b* distance", Limit: fmt.Sprintf("a* %g..%g, b* %g..%g", th.SkinAMin, th.SkinAMax, th.SkinBMin, th.SkinBMax), Detail: fmt.Sprintf("a*=%.1f b*=%.1f", a, b)})
	return nil
}
