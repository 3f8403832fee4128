// Package videotest makes short camera-like videos from the test photos, for tests of the
// capture workflow: a cooperative subject holding still, the same blurred, and two people
// in the frame. Videos go to a test's temporary directory; nothing is committed.
package videotest

import (
	"image"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"testing"

	"gocv.io/x/gocv"

	"enrollstation/biometrics"
)

// Kind is the scene a video shows.
type Kind int

const (
	Good   Kind = iota // one subject, in place, holding still
	Blur               // the same, out of focus
	TwoOne             // two subjects side by side
)

const (
	width, height = 1280, 720
	fps           = 30
)

var backdrop = color.RGBA{R: 214, G: 216, B: 218, A: 255}

type subject struct {
	img       gocv.Mat
	mx, my    float64 // eye midpoint
	ied, roll float64
}

func load(t testing.TB, a *biometrics.Assessor, path string) *subject {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := biometrics.DecodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.Assess(img)
	if err != nil || rep.Face == nil {
		img.Close()
		t.Fatalf("videotest: %s: no face (%v)", path, err)
	}
	l, r := rep.Eyes[0], rep.Eyes[1]
	return &subject{img: img, mx: (l.X + r.X) / 2, my: (l.Y + r.Y) / 2, ied: math.Hypot(r.X-l.X, r.Y-l.Y), roll: rep.Pose.Roll}
}

// render draws s with its eye midpoint at (x, y), inter-eye distance ied and no roll,
// onto dst; mask limits it to a vertical band (for two subjects).
func render(s *subject, x, y, ied float64, dst *gocv.Mat) {
	scale := ied / s.ied
	a := -s.roll * math.Pi / 180
	al, be := scale*math.Cos(a), scale*math.Sin(a)
	m := gocv.NewMatWithSize(2, 3, gocv.MatTypeCV64F)
	defer m.Close()
	tx := x - (al*s.mx + be*s.my)
	ty := y - (-be*s.mx + al*s.my)
	for i, v := range []float64{al, be, tx, -be, al, ty} {
		m.SetDoubleAt(i/3, i%3, v)
	}
	gocv.WarpAffineWithParams(s.img, dst, m, image.Pt(width, height), gocv.InterpolationArea, gocv.BorderConstant, backdrop)
}

// Make writes seconds of video of kind to dir and returns its path (MJPG AVI, 1280x720 at
// 30 fps). photos are test photo paths: one for Good and Blur, two for TwoOne.
func Make(t testing.TB, rec *biometrics.Recognizer, dir string, kind Kind, seconds float64, photos ...string) string {
	t.Helper()
	a := biometrics.NewAssessor(rec, biometrics.DefaultConfig())
	var subs []*subject
	for _, p := range photos {
		s := load(t, a, p)
		defer s.img.Close()
		subs = append(subs, s)
	}
	out := filepath.Join(dir, []string{"good", "blur", "two"}[kind]+".avi")
	vw, err := gocv.VideoWriterFile(out, "MJPG", fps, width, height, true)
	if err != nil {
		t.Fatal(err)
	}
	defer vw.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	right := gocv.NewMat()
	defer right.Close()
	n := int(seconds * fps)
	for i := 0; i < n; i++ {
		breath := 0.8 * math.Sin(float64(i)/fps*2)
		switch kind {
		case Good, Blur:
			if kind == Blur {
				render(subs[0], width/2, 325+breath, 120, &right)
				gocv.GaussianBlur(right, &frame, image.Point{}, 6, 6, gocv.BorderReplicate)
			} else {
				render(subs[0], width/2, 325+breath, 120, &frame)
			}
		case TwoOne:
			render(subs[0], 380, 330+breath, 100, &frame)
			render(subs[1], 900, 330-breath, 100, &right)
			half := right.Region(image.Rect(width/2+20, 0, width, height))
			dst := frame.Region(image.Rect(width/2+20, 0, width, height))
			half.CopyTo(&dst)
			half.Close()
			dst.Close()
		}
		if err := vw.Write(frame); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// Still writes one frame of a Good video of photo as a JPEG in dir and returns its path:
// a cooperative subject's camera frame, for tests that need a passing photo.
func Still(t testing.TB, rec *biometrics.Recognizer, dir, photo string) string {
	t.Helper()
	s := load(t, biometrics.NewAssessor(rec, biometrics.DefaultConfig()), photo)
	defer s.img.Close()
	frame := gocv.NewMat()
	defer frame.Close()
	render(s, width/2, 325, 120, &frame)
	b, err := biometrics.EncodeJPEG(frame, 92)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "still.jpg")
	if err := os.WriteFile(out, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return out
}
