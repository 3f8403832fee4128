package capture

import (
	"image"
	"path/filepath"
	"testing"

	"enrollstation/internal/testenv"

	"gocv.io/x/gocv"
)

// loadPhoto reads a test photo as BGR, failing the test when it cannot.
func loadPhoto(t testing.TB, name string) gocv.Mat {
	t.Helper()
	m := gocv.IMRead(testenv.Face(t, name), gocv.IMReadColor)
	if m.Empty() {
		t.Fatalf("cannot decode %s", name)
	}
	return m
}

// makeVideo writes an MJPG .avi of n frames at w x h and fps into a temp dir: the photo
// scaled to cover the frame, panning a few pixels per frame so consecutive frames differ.
func makeVideo(t testing.TB, photo string, w, h int, fps float64, n int) string {
	t.Helper()
	img := loadPhoto(t, photo)
	defer img.Close()
	// Scale so the image covers (w+2n) x h, leaving room to pan.
	pw := w + 2*n
	scale := max(float64(pw)/float64(img.Cols()), float64(h)/float64(img.Rows()))
	big := gocv.NewMat()
	defer big.Close()
	gocv.Resize(img, &big, image.Pt(int(float64(img.Cols())*scale)+1, int(float64(img.Rows())*scale)+1), 0, 0, gocv.InterpolationLinear)

	path := filepath.Join(t.TempDir(), "test.avi")
	vw, err := gocv.VideoWriterFile(path, "MJPG", fps, w, h, true)
	if err != nil {
		t.Fatalf("video writer: %v", err)
	}
	defer vw.Close()
	if !vw.IsOpened() {
		t.Fatalf("video writer for %s did not open", path)
	}
	for i := 0; i < n; i++ {
		r := big.Region(image.Rect(2*i, 0, 2*i+w, h))
		frame := r.Clone()
		r.Close()
		if err := vw.Write(frame); err != nil {
			frame.Close()
			t.Fatalf("writing frame %d: %v", i, err)
		}
		frame.Close()
	}
	return path
}
