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
// 1280x720 frame to 640 px with capture.Previewer, draw a face box, convert to RGBA in
// a buffer of the session's ring; the receiver hands each frame back once it has the
// next, as the capture screen does, so the steady state allocates nothing.
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
	var shown Preview
	s := &CaptureSession{cfg: CaptureConfig{PreviewWidth: 640}, ev: CaptureEvents{Preview: func(p Preview) {
		shown.Release()
		shown = p
	}}}
	faces := []biometrics.TrackedFace{{Rect: image.Rect(500, 200, 780, 520)}}
	var pv capture.Previewer
	defer pv.Close()
	for i := 0; i < previewBuffers; i++ { // the ring's buffers are made once, before timing
		s.publishPreview(&pv, f, faces)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		s.publishPreview(&pv, f, faces)
	}
}

// The preview ring: a frame is never drawn into a buffer the receiver still holds, a
// buffer handed back is drawn into again (the steady state cycles through a few), and a
// receiver that keeps every image gets a new one each time.
func TestPreviewBuffersHandedBack(t *testing.T) {
	f := &capture.Frame{Mat: gocv.NewMatWithSize(720, 1280, gocv.MatTypeCV8UC3)}
	defer f.Mat.Close()
	var pv capture.Previewer
	defer pv.Close()
	var got []Preview
	s := &CaptureSession{cfg: CaptureConfig{PreviewWidth: 640}, ev: CaptureEvents{Preview: func(p Preview) { got = append(got, p) }}}
	publish := func(seq uint64) Preview {
		t.Helper()
		f.Seq = seq
		n := len(got)
		s.publishPreview(&pv, f, nil)
		if len(got) != n+1 {
			t.Fatalf("frame %d: no preview", seq)
		}
		return got[n]
	}
	pix := func(p Preview) *uint8 { return &p.Image.Pix[0] }

	// As the screen does: keep the one on show, hand it back when the next is up.
	held := map[*uint8]bool{}
	var shown Preview
	distinct := map[*uint8]bool{}
	for i := uint64(1); i <= 50; i++ {
		p := publish(i)
		if held[pix(p)] {
			t.Fatalf("frame %d drawn into a buffer the screen still holds", i)
		}
		if p.Image.Rect.Dx() != 640 || p.Image.Rect.Dy() != 360 {
			t.Fatalf("preview %v", p.Image.Rect)
		}
		distinct[pix(p)] = true
		held[pix(p)] = true
		if shown.Image != nil {
			delete(held, pix(shown))
			shown.Release()
			shown.Release() // a second call does nothing
		}
		shown = p
	}
	if len(distinct) > previewBuffers {
		t.Errorf("%d buffers for 50 frames, want at most %d", len(distinct), previewBuffers)
	}

	// A receiver that falls behind and holds several: none of them is reused.
	var hold []Preview
	for i := uint64(100); i < 110; i++ {
		p := publish(i)
		for _, h := range append(hold, shown) {
			if pix(h) == pix(p) {
				t.Fatalf("frame %d drawn into a held buffer", i)
			}
		}
		hold = append(hold, p)
	}
	for _, h := range hold {
		h.Release()
	}

	// A receiver that never hands back keeps distinct images.
	keep := map[*uint8]bool{}
	s.ring = previewRing{}
	for i := uint64(200); i < 210; i++ {
		p := publish(i)
		if keep[pix(p)] {
			t.Fatalf("frame %d reused a kept image", i)
		}
		keep[pix(p)] = true
	}
}
