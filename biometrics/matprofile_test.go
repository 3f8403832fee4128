//go:build matprofile

package biometrics

import (
	"testing"

	"gocv.io/x/gocv"
)

// Every Mat the package makes is closed: run with -tags matprofile.
func TestNoMatLeaks(t *testing.T) {
	a := assessor(t)
	tr, err := NewTracker(TrackerConfig{Eyes: true})
	if err != nil {
		t.Fatal(err)
	}
	data := readFace(t, "bona.jpg")
	start := gocv.MatProfile.Count()
	for i := 0; i < 3; i++ {
		m, err := DecodeImage(data)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := a.Assess(m)
		if err != nil {
			t.Fatal(err)
		}
		p, _, err := CropPortrait(m, *rep.Face, PortraitConfig{})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := EncodePNG(p); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Track(m); err != nil {
			t.Fatal(err)
		}
		if _, err := recognizer(t).RecognizeMat(m); err != nil {
			t.Fatal(err)
		}
		p.Close()
		m.Close()
	}
	if _, err := a.AssessBytes([]byte("junk")); err == nil {
		t.Fatal("junk assessed")
	}
	if n := gocv.MatProfile.Count(); n != start {
		t.Errorf("%d Mats leaked", n-start)
	}
	tr.Close()
}
