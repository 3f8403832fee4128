package capture

import (
	"errors"
	"fmt"
	"image"
	"math"
	"sort"

	"gocv.io/x/gocv"
)

// ErrBadImage: the image is empty, too small or not 8-bit BGR/grey.
var ErrBadImage = errors.New("capture: image unsuitable for measuring")

// Working scales: the resolution-independent sharpness is computed with the shorter
// side at sharpScale pixels, colour cast at castScale (colour needs no detail).
const (
	sharpScale = 480
	castScale  = 240
)

// Measures are calibration measures of one image (or region). Luma values are 0..255.
type Measures struct {
	Width  int `json:"width"`
	Height int `json:"height"`
	// Sharpness is the variance of the Laplacian at native resolution; it grows with
	// resolution, so compare it only between images of the same size.
	Sharpness float64 `json:"sharpness"`
	// SharpnessNorm is the same at a fixed working scale (shorter side 480 px; smaller
	// images are measured as they are), comparable across camera resolutions.
	SharpnessNorm float64 `json:"sharpness_norm"`
	MeanLuma      float64 `json:"mean_luma"`
	DarkClip      float64 `json:"dark_clip"`     // share of pixels with luma <= 8
	BrightClip    float64 `json:"bright_clip"`   // share of pixels with luma >= 247
	DynamicRange  float64 `json:"dynamic_range"` // luma p99 - p1
	// CastA and CastB are the mean CIELAB a* and b* of near-neutral pixels (chroma
	// below 25, L* 15..95): a grey card or white wall under a neutral camera reads
	// about 0/0. Cast is their magnitude. NeutralShare is the share of pixels used;
	// below 2% there is no neutral area and the whole image's mean stands in.
	CastA        float64 `json:"cast_a"`
	CastB        float64 `json:"cast_b"`
	Cast         float64 `json:"cast"`
	NeutralShare float64 `json:"neutral_share"`
	// Noise is Immerkær's fast estimate of the noise standard deviation in luma levels
	// (J. Immerkær, "Fast Noise Variance Estimation", CVIU 1996).
	Noise float64 `json:"noise"`
}

// MeasureRegion measures the part of img inside r (clipped to the image).
func MeasureRegion(img gocv.Mat, r image.Rectangle) (Measures, error) {
	r = r.Intersect(image.Rect(0, 0, img.Cols(), img.Rows()))
	if r.Dx() < 8 || r.Dy() < 8 {
		return Measures{}, fmt.Errorf("%w: region %v is smaller than 8x8 inside a %dx%d image", ErrBadImage, r, img.Cols(), img.Rows())
	}
	reg := img.Region(r)
	defer reg.Close()
	return Measure(reg)
}

// Measure computes the calibration measures of an 8-bit BGR (or grey) image.
func Measure(img gocv.Mat) (Measures, error) {
	if img.Empty() || img.Cols() < 8 || img.Rows() < 8 {
		return Measures{}, fmt.Errorf("%w: %dx%d, need at least 8x8", ErrBadImage, img.Cols(), img.Rows())
	}
	ch := img.Channels()
	if img.Type() != gocv.MatTypeCV8UC3 && img.Type() != gocv.MatTypeCV8UC1 {
		return Measures{}, fmt.Errorf("%w: type %v, want 8-bit BGR or grey", ErrBadImage, img.Type())
	}
	m := Measures{Width: img.Cols(), Height: img.Rows()}

	gray := gocv.NewMat()
	defer gray.Close()
	if ch == 3 {
		gocv.CvtColor(img, &gray, gocv.ColorBGRToGray)
	} else {
		img.CopyTo(&gray)
	}

	m.Sharpness = lapVar(gray)
	if s := min(gray.Cols(), gray.Rows()); s > sharpScale {
		small := gocv.NewMat()
		gocv.Resize(gray, &small, scaled(gray, sharpScale), 0, 0, gocv.InterpolationArea)
		m.SharpnessNorm = lapVar(small)
		small.Close()
	} else {
		m.SharpnessNorm = m.Sharpness
	}

	lumaStats(gray, &m)
	m.Noise = immerkaer(gray)

	if ch == 3 {
		if err := colourCast(img, &m); err != nil {
			return Measures{}, err
		}
	}
	return m, nil
}

// scaled is img's size with the shorter side at s pixels.
func scaled(img gocv.Mat, s int) image.Point {
	w, h := img.Cols(), img.Rows()
	if w < h {
		return image.Pt(s, max(1, h*s/w))
	}
	return image.Pt(max(1, w*s/h), s)
}

func lapVar(gray gocv.Mat) float64 {
	lap := gocv.NewMat()
	defer lap.Close()
	gocv.Laplacian(gray, &lap, gocv.MatTypeCV64F, 1, 1, 0, gocv.BorderDefault)
	mean, std := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer std.Close()
	gocv.MeanStdDev(lap, &mean, &std)
	s := std.GetDoubleAt(0, 0)
	return s * s
}

func lumaStats(gray gocv.Mat, m *Measures) {
	hist := gocv.NewMat()
	defer hist.Close()
	mask := gocv.NewMat()
	defer mask.Close()
	gocv.CalcHist([]gocv.Mat{gray}, []int{0}, mask, &hist, []int{256}, []float64{0, 256}, false)
	var n, sum float64
	h := make([]float64, 256)
	for i := range h {
		h[i] = float64(hist.GetFloatAt(i, 0))
		n += h[i]
		sum += h[i] * float64(i)
	}
	m.MeanLuma = sum / n
	var dark, bright float64
	for i := 0; i <= 8; i++ {
		dark += h[i]
	}
	for i := 247; i < 256; i++ {
		bright += h[i]
	}
	m.DarkClip, m.BrightClip = dark/n, bright/n
	m.DynamicRange = float64(percentile(h, n, 0.99) - percentile(h, n, 0.01))
}

// LumaHistogram returns the share of pixels at each luma level 0..255 of an 8-bit BGR
// or grey image, for a live histogram. The shares sum to 1.
func LumaHistogram(img gocv.Mat) ([]float64, error) {
	if img.Empty() || (img.Type() != gocv.MatTypeCV8UC3 && img.Type() != gocv.MatTypeCV8UC1) {
		return nil, fmt.Errorf("%w: want a non-empty 8-bit BGR or grey image", ErrBadImage)
	}
	src := img
	if img.Channels() == 3 {
		gray := gocv.NewMat()
		defer gray.Close()
		gocv.CvtColor(img, &gray, gocv.ColorBGRToGray)
		src = gray
	}
	hist := gocv.NewMat()
	defer hist.Close()
	mask := gocv.NewMat()
	defer mask.Close()
	gocv.CalcHist([]gocv.Mat{src}, []int{0}, mask, &hist, []int{256}, []float64{0, 256}, false)
	n := float64(src.Rows() * src.Cols())
	h := make([]float64, 256)
	for i := range h {
		h[i] = float64(hist.GetFloatAt(i, 0)) / n
	}
	return h, nil
}

// percentile is the smallest level with at least q of the pixels at or below it.
func percentile(h []float64, n, q float64) int {
	var c float64
	for i, v := range h {
		c += v
		if c >= q*n {
			return i
		}
	}
	return len(h) - 1
}

// immerkaer estimates the noise sigma with the mask [1 -2 1; -2 4 -2; 1 -2 1], which
// cancels smooth image structure (its response to any plane is zero).
func immerkaer(gray gocv.Mat) float64 {
	k, _ := gocv.NewMatFromBytes(3, 3, gocv.MatTypeCV32F, float32Bytes(1, -2, 1, -2, 4, -2, 1, -2, 1))
	defer k.Close()
	resp := gocv.NewMat()
	defer resp.Close()
	gocv.Filter2D(gray, &resp, gocv.MatTypeCV32F, k, image.Pt(-1, -1), 0, gocv.BorderDefault)
	w, h := gray.Cols(), gray.Rows()
	inner := resp.Region(image.Rect(1, 1, w-1, h-1))
	defer inner.Close()
	sum := gocv.Norm(inner, gocv.NormL1)
	return math.Sqrt(math.Pi/2) * sum / (6 * float64(w-2) * float64(h-2))
}

func float32Bytes(v ...float32) []byte {
	b := make([]byte, 0, 4*len(v))
	for _, f := range v {
		u := math.Float32bits(f)
		b = append(b, byte(u), byte(u>>8), byte(u>>16), byte(u>>24))
	}
	return b
}

func colourCast(img gocv.Mat, m *Measures) error {
	small := gocv.NewMat()
	defer small.Close()
	if min(img.Cols(), img.Rows()) > castScale {
		// Bilinear sampling is enough for mean colours and far cheaper than area
		// averaging at non-integer factors.
		gocv.Resize(img, &small, scaled(img, castScale), 0, 0, gocv.InterpolationLinear)
	} else {
		img.CopyTo(&small)
	}
	f := gocv.NewMat()
	defer f.Close()
	small.ConvertToWithParams(&f, gocv.MatTypeCV32FC3, 1.0/255, 0)
	lab := gocv.NewMat()
	defer lab.Close()
	// Float input gives true CIELAB: L* 0..100, a*/b* about -127..127.
	gocv.CvtColor(f, &lab, gocv.ColorBGRToLab)
	if !lab.IsContinuous() {
		c := lab.Clone()
		lab.Close()
		lab = c
	}
	px, err := lab.DataPtrFloat32()
	if err != nil {
		return fmt.Errorf("capture: colour cast: %w", err)
	}
	var na, nb, nn, aa, ab, all float64
	for i := 0; i+2 < len(px); i += 3 {
		l, a, b := float64(px[i]), float64(px[i+1]), float64(px[i+2])
		if l < 15 || l > 95 {
			continue
		}
		all++
		aa += a
		ab += b
		if a*a+b*b < 25*25 {
			nn++
			na += a
			nb += b
		}
	}
	total := float64(len(px) / 3)
	m.NeutralShare = nn / total
	switch {
	case nn >= 0.02*total:
		m.CastA, m.CastB = na/nn, nb/nn
	case all > 0:
		m.CastA, m.CastB = aa/all, ab/all
	}
	m.Cast = math.Hypot(m.CastA, m.CastB)
	return nil
}

// Thresholds are a profile's pass/fail limits. A zero limit switches its check off.
type Thresholds struct {
	MinSharpnessNorm float64 `json:"min_sharpness_norm,omitempty"`
	MinMeanLuma      float64 `json:"min_mean_luma,omitempty"`
	MaxMeanLuma      float64 `json:"max_mean_luma,omitempty"`
	MaxDarkClip      float64 `json:"max_dark_clip,omitempty"`
	MaxBrightClip    float64 `json:"max_bright_clip,omitempty"`
	MinDynamicRange  float64 `json:"min_dynamic_range,omitempty"`
	MaxCast          float64 `json:"max_cast,omitempty"`
	MaxNoise         float64 `json:"max_noise,omitempty"`
}

// DefaultThresholds suit a face-capture counter under office light. They are a
// starting point for a technician, not a standard.
func DefaultThresholds() Thresholds {
	return Thresholds{
		MinSharpnessNorm: 50,
		MinMeanLuma:      70,
		MaxMeanLuma:      190,
		MaxDarkClip:      0.05,
		MaxBrightClip:    0.05,
		MinDynamicRange:  120,
		MaxCast:          10,
		MaxNoise:         6,
	}
}

// Check is one measure compared with its limit.
type Check struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Limit float64 `json:"limit"`
	Max   bool    `json:"max"` // the limit is a maximum (else a minimum)
	Pass  bool    `json:"pass"`
}

// Verdict is the outcome of every enabled check.
type Verdict struct {
	Pass   bool    `json:"pass"`
	Checks []Check `json:"checks"`
}

// Evaluate compares m with the enabled limits.
func (t Thresholds) Evaluate(m Measures) Verdict {
	v := Verdict{Pass: true}
	add := func(name string, val, limit float64, isMax bool) {
		if limit == 0 {
			return
		}
		pass := val >= limit
		if isMax {
			pass = val <= limit
		}
		v.Checks = append(v.Checks, Check{Name: name, Value: val, Limit: limit, Max: isMax, Pass: pass})
		v.Pass = v.Pass && pass
	}
	add("sharpness", m.SharpnessNorm, t.MinSharpnessNorm, false)
	add("mean luminance (min)", m.MeanLuma, t.MinMeanLuma, false)
	add("mean luminance (max)", m.MeanLuma, t.MaxMeanLuma, true)
	add("dark clipping", m.DarkClip, t.MaxDarkClip, true)
	add("bright clipping", m.BrightClip, t.MaxBrightClip, true)
	add("dynamic range", m.DynamicRange, t.MinDynamicRange, false)
	add("colour cast", m.Cast, t.MaxCast, true)
	add("noise", m.Noise, t.MaxNoise, true)
	return v
}

// MedianMeasures is the field-by-field median of ms (a run of frames), so one odd
// frame (a hand in front of the lens, an auto-exposure step) does not sway a verdict.
func MedianMeasures(ms []Measures) Measures {
	if len(ms) == 0 {
		return Measures{}
	}
	med := func(get func(Measures) float64) float64 {
		v := make([]float64, len(ms))
		for i, m := range ms {
			v[i] = get(m)
		}
		sort.Float64s(v)
		if n := len(v); n%2 == 0 {
			return (v[n/2-1] + v[n/2]) / 2
		}
		return v[len(v)/2]
	}
	out := Measures{
		Width:         ms[0].Width,
		Height:        ms[0].Height,
		Sharpness:     med(func(m Measures) float64 { return m.Sharpness }),
		SharpnessNorm: med(func(m Measures) float64 { return m.SharpnessNorm }),
		MeanLuma:      med(func(m Measures) float64 { return m.MeanLuma }),
		DarkClip:      med(func(m Measures) float64 { return m.DarkClip }),
		BrightClip:    med(func(m Measures) float64 { return m.BrightClip }),
		DynamicRange:  med(func(m Measures) float64 { return m.DynamicRange }),
		CastA:         med(func(m Measures) float64 { return m.CastA }),
		CastB:         med(func(m Measures) float64 { return m.CastB }),
		NeutralShare:  med(func(m Measures) float64 { return m.NeutralShare }),
		Noise:         med(func(m Measures) float64 { return m.Noise }),
	}
	out.Cast = math.Hypot(out.CastA, out.CastB)
	return out
}
