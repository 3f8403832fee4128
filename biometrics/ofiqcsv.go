package biometrics

import (
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ofiqColumns are the measure columns of OFIQ's CSV output, in its order (as in
// data/tests/expected_results/expected_results.csv); each is followed by NAME.scalar.
var ofiqColumns = []string{
	"SingleFacePresent", "HeadPoseRoll", "HeadPosePitch", "HeadPoseYaw", "UnderExposurePrevention",
	"OverExposurePrevention", "BackgroundUniformity", "MouthOcclusionPrevention", "MouthClosed",
	"ExpressionNeutrality", "EyesOpen", "EyesVisible", "FaceOcclusionPrevention", "IlluminationUniformity",
	"InterEyeDistance", "DynamicRange", "LeftwardCropOfTheFaceImage", "RightwardCropOfTheFaceImage",
	"UpwardCropOfTheFaceImage", "DownwardCropOfTheFaceImage", "NaturalColour", "CompressionArtifacts",
	"HeadSize", "UnifiedQualityScore", "NoHeadCoverings", "Sharpness", "LuminanceMean", "LuminanceVariance",
}

// ofiqSource maps an OFIQ column to the measure of ours that follows OFIQ's definition.
// Columns missing here are left empty: OFIQ computes them with networks we do not have
// (ExpressionNeutrality, EyesVisible, FaceOcclusionPrevention, MouthOcclusionPrevention,
// NoHeadCoverings, UnifiedQualityScore, CompressionArtifacts), or our measure of the same
// name is a different, classical method on another scale (Sharpness,
// BackgroundUniformity, NaturalColour): putting those beside OFIQ's would mislead.
// OFIQ's UpwardCrop is the margin below the eyes and its DownwardCrop the margin above
// (CropOfTheFaceImage.cpp).
var ofiqSource = map[string]MeasureID{
	"SingleFacePresent": SingleFacePresent, "HeadPoseRoll": HeadPoseRoll, "HeadPosePitch": HeadPosePitch,
	"HeadPoseYaw": HeadPoseYaw, "UnderExposurePrevention": UnderExposurePrevention,
	"OverExposurePrevention": OverExposurePrevention, "MouthClosed": MouthClosed, "EyesOpen": EyesOpen,
	"IlluminationUniformity": IlluminationUniformity, "InterEyeDistance": InterEyeDistance,
	"DynamicRange": DynamicRange, "LeftwardCropOfTheFaceImage": LeftwardCropOfTheFaceImage,
	"RightwardCropOfTheFaceImage": RightwardCropOfTheFaceImage, "UpwardCropOfTheFaceImage": MarginBelowOfTheFaceImage,
	"DownwardCropOfTheFaceImage": MarginAboveOfTheFaceImage, "HeadSize": HeadSize,
	"LuminanceMean": LuminanceMean, "LuminanceVariance": LuminanceVariance,
}

// OFIQNotComputed lists OFIQ's columns we leave empty in WriteOFIQCSV (see ofiqSource).
func OFIQNotComputed() []string {
	var out []string
	for _, c := range ofiqColumns {
		if _, ok := ofiqSource[c]; !ok {
			out = append(out, c)
		}
	}
	return out
}

// OFIQCSV writes reports in OFIQ's CSV layout (semicolon-separated; Filename, the raw
// values, then the NAME.scalar scores), so that an issuer can put our results beside
// OFIQ's. Reports may be nil (an unreadable file): its row has only the file name.
type OFIQCSV struct {
	w      io.Writer
	header bool
	err    error
}

// NewOFIQCSV returns a writer to w.
func NewOFIQCSV(w io.Writer) *OFIQCSV { return &OFIQCSV{w: w} }

// Write writes one row (and the header before the first).
func (c *OFIQCSV) Write(file string, r *Report) error {
	if c.err != nil {
		return c.err
	}
	if !c.header {
		var b strings.Builder
		b.WriteString("Filename;")
		for _, col := range ofiqColumns {
			b.WriteString(col + ";")
		}
		for _, col := range ofiqColumns {
			b.WriteString(col + ".scalar;")
		}
		b.WriteString("\n")
		if _, c.err = io.WriteString(c.w, b.String()); c.err != nil {
			return c.err
		}
		c.header = true
	}
	if strings.ContainsAny(file, ";\n\r") {
		return fmt.Errorf("biometrics: OFIQ CSV: file name %q contains a separator", file)
	}
	raw := make([]string, len(ofiqColumns))
	score := make([]string, len(ofiqColumns))
	for i, col := range ofiqColumns {
		id, ok := ofiqSource[col]
		if !ok || r == nil {
			continue
		}
		if m, ok := r.Measure(id); ok {
			raw[i] = strconv.FormatFloat(m.Raw, 'f', 6, 64)
			score[i] = strconv.Itoa(m.Score)
		}
	}
	_, c.err = fmt.Fprintf(c.w, "%s;%s;%s\n", file, strings.Join(raw, ";"), strings.Join(score, ";"))
	return c.err
}
