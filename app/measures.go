package app

import (
	"fmt"
	"math"
	"strings"

	"enrollstation/biometrics"
)

// measureName is the plain-language name of a quality measure (OFIQ's identifiers, such
// as LeftwardCropOfTheFaceImage, are for the report files, not for the counter).
func measureName(id biometrics.MeasureID) string {
	switch id {
	case biometrics.SingleFacePresent:
		return tr("One face in the picture")
	case biometrics.InterEyeDistance:
		return tr("Distance between the eyes")
	case biometrics.HeadSize:
		return tr("Head size")
	case biometrics.LeftwardCropOfTheFaceImage:
		return tr("Space left of the face")
	case biometrics.RightwardCropOfTheFaceImage:
		return tr("Space right of the face")
	case biometrics.MarginAboveOfTheFaceImage:
		return tr("Space above the head")
	case biometrics.MarginBelowOfTheFaceImage:
		return tr("Space below the chin")
	case biometrics.HeadPoseYaw:
		return tr("Head turned left/right")
	case biometrics.HeadPosePitch:
		return tr("Head tilted up/down")
	case biometrics.HeadPoseRoll:
		return tr("Head tilted sideways")
	case biometrics.Sharpness:
		return tr("Sharpness")
	case biometrics.LuminanceMean:
		return tr("Brightness")
	case biometrics.UnderExposurePrevention:
		return tr("Too-dark areas")
	case biometrics.OverExposurePrevention:
		return tr("Too-bright areas")
	case biometrics.DynamicRange:
		return tr("Contrast range")
	case biometrics.IlluminationUniformity:
		return tr("Even lighting on the face")
	case biometrics.BackgroundUniformity:
		return tr("Plain background")
	case biometrics.NaturalColour:
		return tr("Natural skin colour")
	case biometrics.EyesOpen:
		return tr("Eyes open")
	case biometrics.MouthClosed:
		return tr("Mouth closed")
	case biometrics.LuminanceVariance:
		return tr("Brightness variation on the face")
	}
	return string(id) // a measure added later without a name yet
}

// measureNames maps measureName over identifiers (e.g. a report's failed measures).
func measureNames(ids []string) string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = measureName(biometrics.MeasureID(id))
	}
	return strings.Join(out, tr(", "))
}

// measureValue shows a measured value with its unit in plain figures: never in
// exponent notation, with as many decimals as the unit needs.
func measureValue(m biometrics.Measure) string {
	v := m.Raw
	switch m.Unit {
	case "fraction", "of image height":
		return fmt.Sprintf("%.1f %%", 100*v)
	case "deg":
		return fmt.Sprintf("%.1f°", v)
	case "px":
		return fmt.Sprintf("%.0f %s", v, tr("pixels"))
	case "IED":
		return fmt.Sprintf("%.2f × %s", v, tr("eye distance"))
	case "T": // OFIQ's margins, in eye-to-chin distances
		return fmt.Sprintf("%.2f × %s", v, tr("eye-to-chin distance"))
	case "faces", "eyes": // a count; the measure's name says of what
		return fmt.Sprintf("%.0f", v)
	case "bits":
		return fmt.Sprintf("%.1f %s", v, tr("bits"))
	}
	var s string
	switch a := math.Abs(v); {
	case a >= 100 || v == math.Trunc(v):
		s = fmt.Sprintf("%.0f", v)
	case a >= 1:
		s = fmt.Sprintf("%.1f", v)
	default:
		s = fmt.Sprintf("%.3f", v)
	}
	if m.Unit != "" {
		s += " " + measureUnit(m.Unit)
	}
	return s
}

// measureUnit translates the units measures carry without a special format.
func measureUnit(u string) string {
	switch u {
	case "stddev":
		return tr("std. dev.")
	case "a*b* distance":
		return tr("colour distance")
	case "eye-chin / height":
		return tr("eye-to-chin distance / image height")
	case "lid gap / T":
		return tr("lid gap / eye-to-chin distance")
	case "lip gap / T":
		return tr("lip gap / eye-to-chin distance")
	}
	return u
}
