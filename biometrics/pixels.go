package biometrics

import (
	"image"
	"image/color"
	"math"
	"sort"

	"gocv.io/x/gocv"
)

// inter-eye distance is 64 px, making it independent of resolution.
func sharpness(grey gocv.Mat, r image.Rectangle, d float64) float64 {
	roi := grey.Region(r)
	defer roi.Close()
	s := 64 / d
	norm := gocv.NewMat()
	defer norm.Close()
	w, h := max(8, int(float64(r.Dx())*s+0.5)), max(8, int(float64(r.Dy())*s+0.5))
	interp := gocv.InterpolationArea
	if s > 1 {
		interp = gocv.InterpolationLinear
	}
	gocv.Resize(roi, &norm, image.Pt(w, h), 0, 0, interp)
	lap := gocv.NewMat()
	defer lap.Close()
	gocv.Laplacian(norm, &lap, gocv.MatTypeCV64F, 3, 1, 0, gocv.BorderReplicate)
	mean, std := gocv.NewMat(), gocv.NewMat()
	defer mean.Close()
	defer std.Close()
	gocv.MeanStdDev(lap, &mean, &std)
	sd := std.GetDoubleAt(0, 0)
	return sd * sd
}

type lum struct {
	mean, under, over, entropy float64
	left, right, uniformity    float64
}

func lumStats(grey gocv.Mat, r image.Rectangle, midX int) lum {
	pix, _ := grey.DataPtrUint8()
	stride := grey.Cols()
	var hist [256]int
	var sumL, sumR float64
	var nL, nR int
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := pix[y*stride:]
		for x := r.Min.X; x < r.Max.X; x++ {
			v := row[x]
			hist[v]++
			if x < midX {
				sumL += float64(v)
				nL++
			} else {
				sumR += float64(v)
				nR++
			}
		}
	}
	n := float64(r.Dx() * r.Dy())
	var st lum
	var sum float64
	for v, c := range hist {
		sum += float64(v * c)
		p := float64(c) / n
		if p > 0 {
			st.entropy -= p * math.Log2(p)
		}
		if v <= 25 {
			st.under += float64(c)
		}
		if v >= 247 {
			st.over += float64(c)
		}
	}
	st.mean = sum / n / 255
	st.under /= n
	st.over /= n
	if nL > 0 && nR > 0 {
		st.left, st.right = sumL/float64(nL)/255, sumR/float64(nR)/255
		if hi := math.Max(st.left, st.right); hi > 0 {
			st.uniformity = math.Min(st.left, st.right) / hi
		}
	}
	return st
}

// background is the luminance standard deviation of the strips beside the head (from
// 1.3 to 2.0 IED from the eye midpoint, eye level up to 1.8 IED above) and above it
// (2.1–2.4 IED above): where an ICAO portrait shows plain background.
func background(grey gocv.Mat, M Point, d float64) (float64, bool) {
	b := image.Rect(0, 0, grey.Cols(), grey.Rows())
	regions := []image.Rectangle{
		image.Rect(int(M.X-2.0*d), int(M.Y-1.8*d), int(M.X-1.3*d), int(M.Y)),
		image.Rect(int(M.X+1.3*d), int(M.Y-1.8*d), int(M.X+2.0*d), int(M.Y)),
		image.Rect(int(M.X-1.0*d), int(M.Y-2.4*d), int(M.X+1.0*d), int(M.Y-2.1*d)),
	}
	pix, _ := grey.DataPtrUint8()
	stride := grey.Cols()
	var s, s2, n float64
	for _, r := range regions {
		r = r.Intersect(b)
		for y := r.Min.Y; y < r.Max.Y; y++ {
			row := pix[y*stride:]
			for x := r.Min.X; x < r.Max.X; x++ {
				v := float64(row[x])
				s += v
				s2 += v * v
				n++
			}
		}
	}
	// Less than a tenth of the expected area: the frame is too tight to judge.
	if n < 0.1*(2*0.7*1.8+2*0.3)*d*d {
		return 0, false
	}
	mean := s / n
	return math.Sqrt(math.Max(0, s2/n-mean*mean)), true
}

// skinLab returns the mean CIELAB a*, b* of two cheek patches below the eyes.
func skinLab(bgr gocv.Mat, L, R Point, d float64) (a, b float64) {
	bounds := image.Rect(0, 0, bgr.Cols(), bgr.Rows())
	var sa, sb, n float64
	for _, e := range []Point{L, R} {
		r := image.Rect(int(e.X-0.2*d), int(e.Y+0.35*d), int(e.X+0.2*d), int(e.Y+0.75*d)).Intersect(bounds)
		if r.Dx() < 2 || r.Dy() < 2 {
			continue
		}
		roi := bgr.Region(r)
		lab := gocv.NewMat()
		gocv.CvtColor(roi, &lab, gocv.ColorBGRToLab)
		m := lab.Mean()
		lab.Close()
		roi.Close()
		w := float64(r.Dx() * r.Dy())
		// 8-bit Lab stores a* and b* offset by 128.
		sa += (m.Val2 - 128) * w
		sb += (m.Val3 - 128) * w
		n += w
	}
	if n == 0 {
		return 0, 0
	}
	return sa / n, sb / n
}

// innerFace is the face region of the classical measures (sharpness, dynamic range):
// eyebrows to mouth and cheek to cheek, axis-aligned around the eye midpoint M.
func innerFace(M Point, d float64, w, h int, f Face) image.Rectangle {
	bounds := image.Rect(0, 0, w, h)
	r := image.Rect(int(M.X-0.8*d), int(M.Y-0.45*d), int(M.X+0.8*d), int(M.Y+1.45*d)).Intersect(bounds)
	if r.Dx() < 4 || r.Dy() < 4 {
		r = f.Rect.Intersect(bounds)
	}
	return r
}

// The aligned face of OFIQ (utils.cpp alignImage): a similarity transform taking the eye
// centres, nose tip and mouth corners to fixed points of a 616×616 image.
const alignedSide = 616

var alignRef = [5]Point{{251, 272}, {364, 272}, {308, 336}, {262, 402}, {355, 402}}

type alignedFace struct {
	img   gocv.Mat // 616×616 BGR
	shape Shape    // landmarks in the aligned image
}

func (a *alignedFace) close() { a.img.Close() }

// similarity is the least-squares similarity transform taking src to dst (OFIQ uses
// estimateAffinePartial2D with LMEDS; on five consistent points both give this fit).
func similarity(src, dst []Point) affine {
	ps, pd := mean(src...), mean(dst...)
	var num complex128
	var den float64
	for i := range src {
		a := complex(src[i].X-ps.X, src[i].Y-ps.Y)
		b := complex(dst[i].X-pd.X, dst[i].Y-pd.Y)
		num += b * complex(real(a), -imag(a))
		den += real(a)*real(a) + imag(a)*imag(a)
	}
	k := num / complex(den, 0)
	c, s := real(k), imag(k)
	return affine{c, -s, pd.X - (c*ps.X - s*ps.Y), s, c, pd.Y - (s*ps.X + c*ps.Y)}
}

func alignFace(work gocv.Mat, s *Shape) (*alignedFace, error) {
	l, r := s.ofiqEyes()
	src := []Point{l, r, s[shNoseTip], s[shMouthLeft], s[shMouthRight]}
	m := similarity(src, alignRef[:])
	mat := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer mat.Close()
	for i, v := range m {
		mat.SetDoubleAt(i/3, i%3, v)
	}
	out := &alignedFace{img: gocv.NewMat()}
	gocv.WarpAffine(work, &out.img, mat, image.Pt(alignedSide, alignedSide))
	for i, p := range s {
		out.shape[i] = m.apply(p)
	}
	return out, nil
}

// srgbToLinear is the sRGB transfer function inverted (image_utils.cpp ColorConvert).
var srgbToLinear = func() (t [256]float64) {
	for i := range t {
		x := float64(i) / 255
		if x > 0.04045 {
			t[i] = math.Pow((x+0.055)/1.055, 2.4)
		} else {
			t[i] = x / 12.92
		}
	}
	return t
}()

// linearLuminance is GetLuminanceImageFromBGR: Rec. 709 luminance of linear RGB, 0–255.
func linearLuminance(bgr gocv.Mat) []uint8 {
	pix, _ := bgr.DataPtrUint8()
	n := bgr.Cols() * bgr.Rows()
	out := make([]uint8, n)
	for i := 0; i < n; i++ {
		b, g, r := pix[3*i], pix[3*i+1], pix[3*i+2]
		y := 0.2126*srgbToLinear[r] + 0.7152*srgbToLinear[g] + 0.0722*srgbToLinear[b]
		out[i] = uint8(math.Floor(y*255 + 0.5))
	}
	return out
}

// hullMask is 1 inside the convex hull of the aligned landmarks (GetFaceMask, alpha 0).
func (a *alignedFace) hullMask() []uint8 {
	pts := make([]image.Point, len(a.shape))
	for i, p := range a.shape {
		pts[i] = image.Pt(int(p.X), int(p.Y))
	}
	hull := convexHull(pts)
	mask := gocv.NewMatWithSize(alignedSide, alignedSide, gocv.MatTypeCV8U)
	defer mask.Close()
	pv := gocv.NewPointsVectorFromPoints([][]image.Point{hull})
	defer pv.Close()
	gocv.FillPoly(&mask, pv, color.RGBA{1, 1, 1, 0})
	b, _ := mask.DataPtrUint8()
	return append([]uint8(nil), b...)
}

type lumResult struct{ mean, variance, under, over float64 }

// luminance is Luminance.cpp and CalculateExposure: the normalised histogram of the
// linear luminance over the hull; mean and variance of value/255; the fractions in
// 0..25 and 247..255. (OFIQ also removes occluded pixels with a segmentation network we
// do not have.)
func (a *alignedFace) luminance() lumResult {
	lum := linearLuminance(a.img)
	mask := a.hullMask()
	var hist [256]float64
	n := 0.0
	for i, m := range mask {
		if m != 0 {
			hist[lum[i]]++
			n++
		}
	}
	var r lumResult
	if n == 0 {
		return r
	}
	for i := range hist {
		hist[i] /= n
		r.mean += hist[i] * float64(i) / 255
	}
	for i := range hist {
		v := float64(i)/255 - r.mean
		r.variance += hist[i] * v * v
		if i <= 25 {
			r.under += hist[i]
		}
		if i >= 247 {
			r.over += hist[i]
		}
	}
	return r
}

// illuminationUniformity is IlluminationUniformity.cpp: two square zones (0.3 IED) below
// the eyes by half the eye–mouth distance, inside of each eye; the sum of the bin-wise
// minimum of their normalised luminance histograms (face outside the hull blacked out).
// It also returns each zone's mean luminance for the detail line.
func (a *alignedFace) illuminationUniformity() (raw, leftMean, rightMean float64) {
	lum := linearLuminance(a.img)
	mask := a.hullMask()
	s := &a.shape
	rnd := func(p Point) Point { return Point{math.Round(p.X), math.Round(p.Y)} }
	l, r := s.ofiqEyes()
	l, r = rnd(l), rnd(r)
	ied := dist(l, r)
	mouth := mean(s[shInnerLipTop], s[shInnerLipBot])
	em := dist(mean(l, r), mouth)
	zone := int(0.3 * ied)
	if zone < 1 {
		return 0, 0, 0
	}
	hist := func(x0, y0 int) ([256]float64, float64) {
		var h [256]float64
		sum := 0.0
		n := 0.0
		for y := y0; y < y0+zone; y++ {
			for x := x0; x < x0+zone; x++ {
				v := uint8(0)
				if x >= 0 && y >= 0 && x < alignedSide && y < alignedSide && mask[y*alignedSide+x] != 0 {
					v = lum[y*alignedSide+x]
				}
				h[v]++
				sum += float64(v)
				n++
			}
		}
		for i := range h {
			h[i] /= n
		}
		return h, sum / n / 255
	}
	dy := int(em / 2)
	hr, mr := hist(int(r.X)-zone, int(r.Y)+dy)
	hl, ml := hist(int(l.X), int(l.Y)+dy)
	for i := range hl {
		raw += math.Min(hl[i], hr[i])
	}
	return raw, ml, mr
}

// convexHull is Andrew's monotone chain.
func convexHull(p []image.Point) []image.Point {
	pts := append([]image.Point(nil), p...)
	sort.Slice(pts, func(i, j int) bool {
		return pts[i].X < pts[j].X || (pts[i].X == pts[j].X && pts[i].Y < pts[j].Y)
	})
	cross := func(o, a, b image.Point) int { return (a.X-o.X)*(b.Y-o.Y) - (a.Y-o.Y)*(b.X-o.X) }
	var h []image.Point
	for _, q := range pts {
		for len(h) >= 2 && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, q)
	}
	lower := len(h) + 1
	for i := len(pts) - 2; i >= 0; i-- {
		q := pts[i]
		for len(h) >= lower && cross(h[len(h)-2], h[len(h)-1], q) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, q)
	}
	return h[:len(h)-1]
}

func boxDistance(a, b, amin, amax, bmin, bmax float64) float64 {
	da := math.Max(0, math.Max(amin-a, a-amax))
	db := math.Max(0, math.Max(bmin-b, b-bmax))
	return math.Hypot(da, db)
}
