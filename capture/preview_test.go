package capture

import (
	"image"
	"image/color"
	"testing"

	"gocv.io/x/gocv"
)

func TestPreviewImage(t *testing.T) {
	img := loadPhoto(t, "bona.jpg") // 1000x1000
	defer img.Close()
	for _, tc := range []struct {
		maxW, maxH, w, h int
	}{
		{640, 360, 360, 360},
		{320, 480, 320, 320},
		{2000, 2000, 1000, 1000}, // never enlarged
	} {
		p, err := PreviewImage(img, tc.maxW, tc.maxH, nil)
		if err != nil {
			t.Fatal(err)
		}
		if p.Rect.Dx() != tc.w || p.Rect.Dy() != tc.h {
			t.Errorf("fit %dx%d: got %v, want %dx%d", tc.maxW, tc.maxH, p.Rect, tc.w, tc.h)
		}
		again, err := PreviewImage(img, tc.maxW, tc.maxH, p)
		if err != nil || again != p {
			t.Errorf("same size did not reuse the image: %v", err)
		}
	}
	// Colour order: BGR (255, 0, 0) is blue.
	blue := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(255, 0, 0, 0), 48, 64, gocv.MatTypeCV8UC3)
	defer blue.Close()
	p, err := PreviewImage(blue, 32, 32, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.RGBAAt(5, 5); got != (color.RGBA{0, 0, 255, 255}) || p.Rect != image.Rect(0, 0, 32, 24) {
		t.Errorf("blue frame previews as %v in %v", got, p.Rect)
	}
	empty := gocv.NewMat()
	defer empty.Close()
	if _, err := PreviewImage(empty, 10, 10, nil); err == nil {
		t.Error("empty image accepted")
	}
}

func BenchmarkPreviewImage(b *testing.B) {
	img := loadPhoto(b, "bona.jpg")
	defer img.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	gocv.Resize(img, &frame, image.Pt(1920, 1080), 0, 0, gocv.InterpolationLinear)
	var dst *image.RGBA
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var err error
		if dst, err = PreviewImage(frame, 640, 360, dst); err != nil {
			b.Fatal(err)
		}
	}
}
