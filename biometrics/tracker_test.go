package biometrics

import (
	"errors"
	"image"
	"testing"

	"gocv.io/x/gocv"
)

// frame720 letterboxes a photo into a 1280x720 frame (as a station camera would give).
func frame720(t testing.TB, name string) gocv.Mat {
	t.Helper()
	m := decodeFace(t, name)
	defer m.Close()
	s := min(1280/float64(m.Cols()), 720/float64(m.Rows()))
	w, h := int(float64(m.Cols())*s), int(float64(m.Rows())*s)
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(m, &small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	out := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(90, 90, 90, 0), 720, 1280, gocv.MatTypeCV8UC3)
	roi := out.Region(image.Rect((1280-w)/2, (720-h)/2, (1280-w)/2+w, (720-h)/2+h))
	small.CopyTo(&roi)
	roi.Close()
	return out
}

func TestTracker(t *testing.T) {
	tr, err := NewTracker(TrackerConfig{Eyes: true})
	if err != nil {
		t.Fatal(err)
	}
	defer tr.Close()
	a := assessor(t)
	for _, name := range []string{"bona.jpg", "rena.jpg", "luda.jpg"} {
		f := frame720(t, name)
		got, err := tr.Track(f)
		if err != nil {
			t.Fatal(err)
		}
		rep := mustAssess(t, a, f)
		f.Close()
		if len(got) == 0 {
			t.Errorf("%s: tracker found no face", name)
			continue
		}
		// The largest box holds go-face's landmarks.
		for i, p := range rep.Face.Landmarks {
			if !p.In(got[0].Rect) {
				t.Errorf("%s: landmark %d %v outside tracked box %v", name, i, p, got[0].Rect)
			}
		}
	}
	blank := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(128, 128, 128, 0), 720, 1280, gocv.MatTypeCV8UC3)
	defer blank.Close()
	if got, err := tr.Track(blank); err != nil || len(got) != 0 {
		t.Errorf("blank frame: %v, %v", got, err)
	}
	if _, err := tr.Track(gocv.NewMat()); !errors.Is(err, ErrImageEmpty) {
		t.Errorf("empty Mat: %v", err)
	}
	if _, err := NewTracker(TrackerConfig{FaceCascade: "/nonexistent.xml"}); !errors.Is(err, ErrCascadeMissing) {
		t.Errorf("missing cascade: %v", err)
	}
}

func BenchmarkTrack720p(b *testing.B) {
	tr, err := NewTracker(TrackerConfig{})
	if err != nil {
		b.Fatal(err)
	}
	defer tr.Close()
	f := frame720(b, "bona.jpg")
	defer f.Close()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { reportCPU(b, cpu0) }()
	for i := 0; i < b.N; i++ {
		if _, err := tr.Track(f); err != nil {
			b.Fatal(err)
		}
	}
}
