package capture

import (
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// BenchmarkPreviewer is the live preview path: one Previewer reused for every frame
// (1920x1080 → 640x360, RGBA into a reused image), as the bench and the capture
// session use it. allocs/op shows what a frame still allocates.
func BenchmarkPreviewer(b *testing.B) {
	img := loadPhoto(b, "bona.jpg")
	defer img.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	gocv.Resize(img, &frame, image.Pt(1920, 1080), 0, 0, gocv.InterpolationLinear)
	var pv Previewer
	defer pv.Close()
	var dst *image.RGBA
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := pv.Scale(frame, 640, 360); err != nil {
			b.Fatal(err)
		}
		var err error
		if dst, err = pv.RGBA(dst); err != nil {
			b.Fatal(err)
		}
	}
}
