package enroll

import (
	"image"
	"os"
	"testing"

	"gocv.io/x/gocv"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/internal/testenv"
)

// BenchmarkSessionPreview is the capture session's per-frame preview work: downscale a
// 1280x720 frame to 640 px with capture.Previewer, draw a face box, convert to a new
// RGBA image the screen keeps.
func BenchmarkSessionPreview(b *testing.B) {
	data, err := os.ReadFile(testenv.Face(b, "bona.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	img, err := biometrics.DecodeImage(data)
	if err != nil {
		b.Fatal(err)
	}
	defer img.Close()
	f := &capture.Frame{Mat: gocv.NewMat()}
	defer f.Mat.Close()
	gocv.Resize(img, &f.Mat, image.Pt(1280, 720), 0, 0, gocv.InterpolationLinear)
	s := &CaptureSession{cfg: CaptureConfig{PreviewWidth: 640}, ev: CaptureEvents{Preview: func(Preview) {}}}
	faces := []biometrics.TrackedFace{{Rect: image.Rect(500, 200, 780, 520)}}
	var pv capture.Previewer
	defer pv.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.publishPreview(&pv, f, faces)
	}
}
