package biometrics

import "math"

// sigmoid is OFIQ's quality mapping (Measure.h): Q(x) = h·(a + s·1/(1+exp((x0−x)/w))),
// rounded and clamped to 0..100.
type sigmoid struct{ h, a, s, x0, w float64 }

func (p sigmoid) score(x float64) int {
	q := math.Round(p.h * (p.a + p.s/(1+math.Exp((p.x0-x)/p.w))))
	return int(math.Max(0, math.Min(100, q)))
}

func ofiqSigmoid(x, x0, w float64) float64 { return 1 / (1 + math.Exp((x0-x)/w)) }

// The mappings of OFIQ's data/ofiq_config.jaxn (and the measures' defaults where the
// file sets none), by measure.
var (
	mapInterEye     = sigmoid{h: 100, a: 0, s: 1, x0: 70, w: 20}
	mapHeadSize     = sigmoid{h: 200, a: 1, s: -1, x0: 0, w: 0.05} // of |raw − 0.45|
	mapSideCrop     = sigmoid{h: 100, a: 0, s: 1, x0: 0.9, w: 0.1}
	mapMarginBelow  = sigmoid{h: 100, a: 0, s: 1, x0: 1.8, w: 0.1} // OFIQ's UpwardCropOfTheFaceImage
	mapMarginAbove  = sigmoid{h: 100, a: 0, s: 1, x0: 1.4, w: 0.1} // OFIQ's DownwardCropOfTheFaceImage
	mapUnderExposed = sigmoid{h: 120, a: 0.832, s: -1, x0: 0.92, w: 0.05}
	mapEyesOpen     = sigmoid{h: 100, a: 0, s: 1, x0: 0.02, w: 0.01}
	mapMouthClosed  = sigmoid{h: 100, a: 1, s: -1, x0: 0.2, w: 0.06}
	mapNaturalColor = sigmoid{h: 200, a: 1, s: -1, x0: 0, w: 10}
)

// scoreLuminanceMean is Luminance.cpp's mapping of the mean.
func scoreLuminanceMean(m float64) int {
	return int(math.Round(100 * ofiqSigmoid(m, 0.2, 0.05) * (1 - ofiqSigmoid(m, 0.8, 0.05))))
}

// scoreLuminanceVariance is Luminance.cpp's mapping of the variance.
func scoreLuminanceVariance(v float64) int {
	return int(math.Max(0, math.Round(100*math.Sin(60*v/(60*v+1)*math.Pi))))
}

// scoreOverExposure is OverExposurePrevention.cpp's mapping: 1/(raw + 0.01).
func scoreOverExposure(f float64) int {
	return int(math.Max(0, math.Min(100, math.Round(1/(f+0.01)))))
}

// scoreIllumination is IlluminationUniformity.cpp's mapping: 100·raw^0.3.
func scoreIllumination(x float64) int { return int(math.Round(100 * math.Pow(math.Max(0, x), 0.3))) }

// scorePose is HeadPose.cpp's mapping: 100·cos²(angle).
func scorePose(deg float64) int {
	c := math.Cos(deg * math.Pi / 180)
	return int(math.Max(0, math.Round(100*c*c)))
}

// scoreSingleFace is SingleFacePresent.cpp's mapping: 100·(1 − f).
func scoreSingleFace(f float64) int { return int(math.Round(100 * (1 - f))) }

// scoreDynamicRange is DynamicRange.cpp's mapping: 12.5 × entropy in bits (100 at 8 bits).
func scoreDynamicRange(bits float64) int {
	return int(math.Max(0, math.Min(100, math.Round(12.5*bits))))
}
