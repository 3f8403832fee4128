//go:build matprofile

package enroll

import (
	"bytes"
	"testing"

	"gocv.io/x/gocv"

	"enrollstation/internal/testenv"
	"enrollstation/internal/videotest"
)

// TestCaptureSessionNoMatLeaks runs whole capture sessions (camera pump, preview with
// face boxes, live assessment, auto-capture, retake, a manual capture, stop) and checks
// that every Mat they created was closed. Run with: go test -tags matprofile ./enroll/
func TestCaptureSessionNoMatLeaks(t *testing.T) {
	r := needRec(t)
	video := videotest.Make(t, r, t.TempDir(), videotest.Good, 3, testenv.Face(t, "sejeong.jpg"))
	start := gocv.MatProfile.Count()
	for i := 0; i < 2; i++ {
		var auto bool
		out := runSession(t, video, CaptureConfig{Open: fileOpener(video, true)},
			func(s *CaptureSession, lives <-chan Live, results <-chan any) {
				for x := range results { // auto-capture on a cooperative subject
					if c, ok := x.(*Capture); ok && c.Auto {
						auto = true
						break
					}
				}
				s.Retake()
				for l := range lives { // a face in the new window
					if l.Report != nil && l.Report.Face != nil {
						break
					}
				}
				s.CaptureNow()
				<-results // captured or failed: both paths hand their frames back
			})
		if !auto || out.previews == 0 {
			t.Fatalf("session %d: no auto-capture (%d previews)", i, out.previews)
		}
	}
	if n := gocv.MatProfile.Count(); n != start {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("%d Mats leaked by capture sessions:\n%s", n-start, b.String())
	}
}
