package biometrics

// Guidance is the one instruction the clerk gives the citizen. Key is stable (the app
// translates it); Text is the English wording. Cause is the measure behind it.
type Guidance struct {
	Key   string    `json:"key"`
	Text  string    `json:"text"`
	Cause MeasureID `json:"cause,omitempty"`
}

// Guidance keys, in priority order (the first that applies wins).
const (
	GuideNoFace       = "no_face"
	GuideOnePerson    = "one_person"
	GuideMoveCloser   = "move_closer"
	GuideMoveBack     = "move_back"
	GuideMoveLeft     = "move_left"  // toward the subject's own left
	GuideMoveRight    = "move_right" // toward the subject's own right
	GuideMoveDown     = "move_down"
	GuideMoveUp       = "move_up"
	GuideLookAtCamera = "look_at_camera"
	GuideTurnLeft     = "turn_left" // the subject's own left
	GuideTurnRight    = "turn_right"
	GuideChinUp       = "chin_up"
	GuideChinDown     = "chin_down"
	GuideHeadStraight = "head_straight"
	GuideEyesOpen     = "eyes_open"
	GuideCloseMouth   = "close_mouth"
	GuideHoldStill    = "hold_still"
	GuideMoreLight    = "more_light"
	GuideLessLight    = "less_light"
	GuideEvenLight    = "even_light"
	GuidePlainBack    = "plain_background"
	GuideCheckColour  = "check_colour"
	GuideGood         = "good"
)

// GuidanceText holds the English text of every key.
var GuidanceText = map[string]string{
	GuideNoFace:       "Please look into the camera",
	GuideOnePerson:    "Only one person in view, please",
	GuideMoveCloser:   "Please move closer",
	GuideMoveBack:     "Please move back a little",
	GuideMoveLeft:     "Please move a little to your left",
	GuideMoveRight:    "Please move a little to your right",
	GuideMoveDown:     "Please lower your head a little (sit lower)",
	GuideMoveUp:       "Please raise your head a little (sit up straight)",
	GuideLookAtCamera: "Please look straight at the camera",
	GuideTurnLeft:     "Turn your head slightly to your left",
	GuideTurnRight:    "Turn your head slightly to your right",
	GuideChinUp:       "Raise your chin slightly",
	GuideChinDown:     "Lower your chin slightly",
	GuideHeadStraight: "Keep your head straight, not tilted",
	GuideEyesOpen:     "Please keep your eyes open",
	GuideCloseMouth:   "Please close your mouth and keep a neutral expression",
	GuideHoldStill:    "Hold still",
	GuideMoreLight:    "More light on the face, please",
	GuideLessLight:    "Too much light on the face",
	GuideEvenLight:    "Light the face evenly (one side is in shadow)",
	GuidePlainBack:    "A plain background is needed behind the head",
	GuideCheckColour:  "Colours look unnatural: check the lighting and camera",
	GuideGood:         "Good, hold still",
}

func guidance(key string, cause MeasureID) Guidance {
	return Guidance{Key: key, Text: GuidanceText[key], Cause: cause}
}

// guide picks the instruction from the failed mandatory measures. The image is not
// mirrored: the image's left is the subject's right.
func guide(r *Report, th Thresholds) Guidance {
	failed := func(id MeasureID) (Measure, bool) {
		m, ok := r.Measure(id)
		return m, ok && m.Mandatory && !m.Pass
	}
	if len(r.Faces) == 0 {
		return guidance(GuideNoFace, SingleFacePresent)
	}
	if _, ok := failed(SingleFacePresent); ok {
		return guidance(GuideOnePerson, SingleFacePresent)
	}
	if _, ok := failed(InterEyeDistance); ok {
		return guidance(GuideMoveCloser, InterEyeDistance)
	}
	// HeadSize is half the crown–chin head length over the frame height: too large, and
	// the portrait (at most 80 % head) does not fit in the frame.
	if m, ok := failed(HeadSize); ok {
		if m.Raw < (th.MinHeadSize+th.MaxHeadSize)/2 {
			return guidance(GuideMoveCloser, m.ID)
		}
		return guidance(GuideMoveBack, m.ID)
	}
	_, left := failed(LeftwardCropOfTheFaceImage)
	_, right := failed(RightwardCropOfTheFaceImage)
	_, above := failed(MarginAboveOfTheFaceImage)
	_, below := failed(MarginBelowOfTheFaceImage)
	if left || right || above || below {
		if g, ok := roomGuidance(r); ok {
			return g
		}
	}
	switch {
	case (left && right) || (above && below):
		return guidance(GuideMoveBack, HeadSize)
	case left: // too near the image's left border: move toward the image's right = own left
		return guidance(GuideMoveLeft, LeftwardCropOfTheFaceImage)
	case right:
		return guidance(GuideMoveRight, RightwardCropOfTheFaceImage)
	case above:
		return guidance(GuideMoveDown, MarginAboveOfTheFaceImage)
	case below:
		return guidance(GuideMoveUp, MarginBelowOfTheFaceImage)
	}
	yaw, yawBad := failed(HeadPoseYaw)
	pitch, pitchBad := failed(HeadPosePitch)
	switch {
	case yawBad && pitchBad:
		return guidance(GuideLookAtCamera, HeadPoseYaw)
	case yawBad && yaw.Raw > 0: // turned toward the image's right = own left
		return guidance(GuideTurnRight, HeadPoseYaw)
	case yawBad:
		return guidance(GuideTurnLeft, HeadPoseYaw)
	case pitchBad && pitch.Raw > 0:
		return guidance(GuideChinUp, HeadPosePitch)
	case pitchBad:
		return guidance(GuideChinDown, HeadPosePitch)
	}
	if _, ok := failed(HeadPoseRoll); ok {
		return guidance(GuideHeadStraight, HeadPoseRoll)
	}
	if _, ok := failed(EyesOpen); ok {
		return guidance(GuideEyesOpen, EyesOpen)
	}
	if _, ok := failed(MouthClosed); ok {
		return guidance(GuideCloseMouth, MouthClosed)
	}
	if _, ok := failed(Sharpness); ok {
		return guidance(GuideHoldStill, Sharpness)
	}
	if m, ok := failed(LuminanceMean); ok {
		if m.Raw < 0.5 {
			return guidance(GuideMoreLight, m.ID)
		}
		return guidance(GuideLessLight, m.ID)
	}
	if _, ok := failed(UnderExposurePrevention); ok {
		return guidance(GuideMoreLight, UnderExposurePrevention)
	}
	if _, ok := failed(OverExposurePrevention); ok {
		return guidance(GuideLessLight, OverExposurePrevention)
	}
	if _, ok := failed(DynamicRange); ok {
		return guidance(GuideMoreLight, DynamicRange)
	}
	if _, ok := failed(IlluminationUniformity); ok {
		return guidance(GuideEvenLight, IlluminationUniformity)
	}
	if _, ok := failed(BackgroundUniformity); ok {
		return guidance(GuidePlainBack, BackgroundUniformity)
	}
	if _, ok := failed(NaturalColour); ok {
		return guidance(GuideCheckColour, NaturalColour)
	}
	return guidance(GuideGood, "")
}

// roomGuidance tells the subject how to move so the frame holds the portrait crop
// (CropPortrait's geometry: crown–chin head length, face centre line centred): back when
// the portrait runs past opposite borders, else away from the border it runs past most.
// ok is false without a 68-point shape or when the crop fits (the margin measures, taken
// from the eye midpoint, then decide).
func roomGuidance(r *Report) (Guidance, bool) {
	if r.Face == nil {
		return Guidance{}, false
	}
	left, right, top, bottom, ok := portraitOverflow(*r.Face, r.Width, r.Height)
	if !ok {
		return Guidance{}, false
	}
	switch worst := max(left, right, top, bottom); {
	case (left > 0 && right > 0) || (top > 0 && bottom > 0):
		return guidance(GuideMoveBack, HeadSize), true
	case worst <= 0:
		return Guidance{}, false
	case worst == left: // past the image's left border: toward the image's right = own left
		return guidance(GuideMoveLeft, LeftwardCropOfTheFaceImage), true
	case worst == right:
		return guidance(GuideMoveRight, RightwardCropOfTheFaceImage), true
	case worst == top:
		return guidance(GuideMoveDown, MarginAboveOfTheFaceImage), true
	default:
		return guidance(GuideMoveUp, MarginBelowOfTheFaceImage), true
	}
}
