package biometrics

import (
	"fmt"
	"image"
	"sync"

	"gocv.io/x/gocv"
)

// eyeDetector tells open eyes with OpenCV's Haar eye cascade, which is trained on open
// eyes and does not fire on a closed lid. The classifier is not safe for concurrent use,
// hence the mutex (a detection costs about a millisecond).
type eyeDetector struct {
	mu  sync.Mutex
	cc  gocv.CascadeClassifier
	err error
}

func newEyeDetector(file string) *eyeDetector {
	e := &eyeDetector{cc: gocv.NewCascadeClassifier()}
	p, err := findCascade(file)
	if err == nil && !e.cc.Load(p) {
		err = fmt.Errorf("biometrics: loading cascade %s: %w", p, ErrCascadeMissing)
	}
	e.err = err
	return e
}

func (e *eyeDetector) close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == ErrClosed {
		return
	}
	e.err = ErrClosed
	e.cc.Close()
}

// open counts the eyes (0–2) the cascade finds in a window around each eye centre,
// scaled so that the inter-eye distance is 100 px. detail says which eye was not found.
func (e *eyeDetector) open(grey gocv.Mat, left, right Point, d float64) (int, string, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err != nil {
		return 0, "", e.err
	}
	bounds := image.Rect(0, 0, grey.Cols(), grey.Rows())
	n := 0
	var missing []string
	for i, c := range []Point{left, right} {
		r := image.Rect(int(c.X-0.5*d), int(c.Y-0.35*d), int(c.X+0.5*d), int(c.Y+0.35*d)).Intersect(bounds)
		found := false
		if r.Dx() >= 8 && r.Dy() >= 8 {
			roi := grey.Region(r)
			norm := gocv.NewMat()
			s := 100 / d
			gocv.Resize(roi, &norm, image.Pt(max(1, int(float64(r.Dx())*s)), max(1, int(float64(r.Dy())*s))), 0, 0, gocv.InterpolationArea)
			gocv.EqualizeHist(norm, &norm)
			found = len(e.cc.DetectMultiScaleWithParams(norm, 1.05, 3, 0, image.Pt(25, 25), image.Pt(90, 70))) > 0
			norm.Close()
			roi.Close()
		}
		if found {
			n++
		} else {
			missing = append(missing, [2]string{"image-left eye not seen open", "image-right eye not seen open"}[i])
		}
	}
	detail := ""
	if len(missing) > 0 {
		detail = fmt.Sprint(missing)
	}
	return n, detail, nil
}
