package biometrics

import (
	"image"
	"math"

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
