package biometrics

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"
)

// Image variants made with gocv from the real photos. Each returns a new Mat.

func decodeFace(t testing.TB, name string) gocv.Mat {
	t.Helper()
	m, err := DecodeImage(readFace(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return m
}

func blurred(m gocv.Mat, sigma float64) gocv.Mat {
	out := gocv.NewMat()
	gocv.GaussianBlur(m, &out, image.Point{}, sigma, sigma, gocv.BorderReplicate)
	return out
}

// exposed scales pixel values by alpha and adds beta (saturating).
func exposed(m gocv.Mat, alpha, beta float32) gocv.Mat {
	out := gocv.NewMat()
	m.ConvertToWithParams(&out, gocv.MatTypeCV8UC3, alpha, beta)
	return out
}

// rotated turns the image by deg degrees counter-clockwise about its centre.
func rotated(m gocv.Mat, deg float64) gocv.Mat {
	rot := gocv.GetRotationMatrix2D(image.Pt(m.Cols()/2, m.Rows()/2), deg, 1)
	defer rot.Close()
	out := gocv.NewMat()
	gocv.WarpAffineWithParams(m, &out, rot, image.Pt(m.Cols(), m.Rows()), gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
	return out
}

func scaled(m gocv.Mat, f float64) gocv.Mat {
	out := gocv.NewMat()
	gocv.Resize(m, &out, image.Pt(int(float64(m.Cols())*f), int(float64(m.Rows())*f)), 0, 0, gocv.InterpolationArea)
	return out
}

func cropped(m gocv.Mat, r image.Rectangle) gocv.Mat {
	roi := m.Region(r.Intersect(image.Rect(0, 0, m.Cols(), m.Rows())))
	defer roi.Close()
	return roi.Clone()
}

// sideBySide puts a and b next to each other at a's height.
func sideBySide(a, b gocv.Mat) gocv.Mat {
	bb := gocv.NewMat()
	defer bb.Close()
	gocv.Resize(b, &bb, image.Pt(b.Cols()*a.Rows()/b.Rows(), a.Rows()), 0, 0, gocv.InterpolationArea)
	out := gocv.NewMat()
	gocv.Hconcat(a, bb, &out)
	return out
}

func greyed(m gocv.Mat) gocv.Mat {
	out := gocv.NewMat()
	gocv.CvtColor(m, &out, gocv.ColorBGRToGray)
	return out
}
