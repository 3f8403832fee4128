package biometrics

import (
	"strings"
	"testing"
)

// The header is OFIQ's (data/tests/expected_results/expected_results.csv), measures we
// do not compute are empty, and OFIQ's Upward/Downward crops are our margins below/above.
func TestOFIQCSV(t *testing.T) {
	const ofiqHeader = "Filename;SingleFacePresent;HeadPoseRoll;HeadPosePitch;HeadPoseYaw;UnderExposurePrevention;OverExposurePrevention;BackgroundUniformity;MouthOcclusionPrevention;MouthClosed;ExpressionNeutrality;EyesOpen;EyesVisible;FaceOcclusionPrevention;IlluminationUniformity;InterEyeDistance;DynamicRange;LeftwardCropOfTheFaceImage;RightwardCropOfTheFaceImage;UpwardCropOfTheFaceImage;DownwardCropOfTheFaceImage;NaturalColour;CompressionArtifacts;HeadSize;UnifiedQualityScore;NoHeadCoverings;Sharpness;LuminanceMean;LuminanceVariance;SingleFacePresent.scalar;HeadPoseRoll.scalar;HeadPosePitch.scalar;HeadPoseYaw.scalar;UnderExposurePrevention.scalar;OverExposurePrevention.scalar;BackgroundUniformity.scalar;MouthOcclusionPrevention.scalar;MouthClosed.scalar;ExpressionNeutrality.scalar;EyesOpen.scalar;EyesVisible.scalar;FaceOcclusionPrevention.scalar;IlluminationUniformity.scalar;InterEyeDistance.scalar;DynamicRange.scalar;LeftwardCropOfTheFaceImage.scalar;RightwardCropOfTheFaceImage.scalar;UpwardCropOfTheFaceImage.scalar;DownwardCropOfTheFaceImage.scalar;NaturalColour.scalar;CompressionArtifacts.scalar;HeadSize.scalar;UnifiedQualityScore.scalar;NoHeadCoverings.scalar;Sharpness.scalar;LuminanceMean.scalar;LuminanceVariance.scalar;"
	r := &Report{Measures: []Measure{
		{ID: MarginBelowOfTheFaceImage, Raw: 2.5, Score: 100},
		{ID: MarginAboveOfTheFaceImage, Raw: 1.25, Score: 18},
		{ID: Sharpness, Raw: 900, Score: 100},
		{ID: EyesOpen, Raw: 0.061, Score: 99},
	}}
	var b strings.Builder
	w := NewOFIQCSV(&b)
	if err := w.Write("a.png", r); err != nil {
		t.Fatal(err)
	}
	if err := w.Write("b.png", nil); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != 3 || lines[0] != ofiqHeader {
		t.Fatalf("CSV:\n%s", b.String())
	}
	cols := strings.Split(strings.TrimSuffix(ofiqHeader, ";"), ";")
	row := strings.Split(lines[1], ";")
	if len(row) != len(cols) {
		t.Fatalf("%d cells, want %d", len(row), len(cols))
	}
	get := func(name string) string {
		for i, c := range cols {
			if c == name {
				return row[i]
			}
		}
		t.Fatalf("no column %s", name)
		return ""
	}
	for name, want := range map[string]string{
		"Filename": "a.png", "UpwardCropOfTheFaceImage": "2.500000", "DownwardCropOfTheFaceImage": "1.250000",
		"DownwardCropOfTheFaceImage.scalar": "18", "EyesOpen": "0.061000", "Sharpness": "", "Sharpness.scalar": "",
		"ExpressionNeutrality": "", "HeadSize": "",
	} {
		if got := get(name); got != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}
	if err := w.Write("x;y.png", r); err == nil {
		t.Error("a file name with the separator was written")
	}
}
