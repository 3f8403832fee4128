package main

import (
	"image"
	"io"
	"os"
	"path/filepath"
	"testing"

	"enrollstation/biometrics"
	"enrollstation/enroll"
	"enrollstation/internal/testenv"
	"gocv.io/x/gocv"
)

// A short demo video, in both containers, reads back with OpenCV: the approach frames
// ask the subject to move closer and the in-place frames pass.
func TestMake(t *testing.T) {
	for _, name := range []string{"demo.mp4", "demo.avi"} {
		out := filepath.Join(t.TempDir(), name)
		cfg := Config{Faces: testenv.FacesDir(t), Models: testenv.ModelsDir(t), Out: out, Photo: "sejeong.jpg", Seconds: 3.5}
		res, err := Make(cfg, io.Discard)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if res.Frames != 105 || res.ApproachGuidance != "move_closer" || res.InPlacePass != res.InPlaceChecked || res.InPlaceChecked < 4 {
			t.Errorf("%s: %+v", name, res)
		}
		vc, err := gocv.VideoCaptureFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if w, h := vc.Get(gocv.VideoCaptureFrameWidth), vc.Get(gocv.VideoCaptureFrameHeight); w != 1280 || h != 720 {
			t.Errorf("%s: %gx%g", name, w, h)
		}
		vc.Close()
		if _, err := os.Stat(out + ".tmp" + filepath.Ext(out)); !os.IsNotExist(err) {
			t.Errorf("%s: temporary file left behind", name)
		}
	}
	if _, err := Make(Config{Faces: t.TempDir(), Models: testenv.ModelsDir(t), Out: filepath.Join(t.TempDir(), "x.mp4"), Seconds: 8}, io.Discard); err == nil {
		t.Error("no photos: no error")
	}
}

// The capture loop the app runs, on the demo video: every third frame is assessed and fed
// to the Selector. Auto-capture fires once the subject is in place, and not on a blurred
// copy of the same video.
func TestDemoAutoCapture(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo.mp4")
	cfg := Config{Faces: testenv.FacesDir(t), Models: testenv.ModelsDir(t), Out: out, Photo: "sejeong.jpg", Seconds: 4}
	if _, err := Make(cfg, io.Discard); err != nil {
		t.Fatal(err)
	}
	rec, err := biometrics.NewRecognizer(cfg.Models)
	if err != nil {
		t.Fatal(err)
	}
	defer rec.Close()
	live := biometrics.LiveConfig()
	live.Thresholds = enroll.DemoThresholds()
	a := biometrics.NewAssessor(rec, live)
	defer a.Close()
	for _, blur := range []bool{false, true} {
		vc, err := gocv.VideoCaptureFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sel := biometrics.NewSelector[int](biometrics.SelectorConfig{StableFrames: 4})
		frame := gocv.NewMat()
		captured := -1
		for i := 0; vc.Read(&frame) && !frame.Empty(); i++ {
			if i%3 != 0 {
				continue
			}
			if blur {
				gocv.GaussianBlur(frame, &frame, image.Point{}, 6, 6, gocv.BorderReplicate)
			}
			rep, err := a.Assess(frame)
			if err != nil {
				rep = nil
			}
			if d, _ := sel.Offer(rep, i); d.Capture && captured < 0 {
				captured = i
			}
		}
		frame.Close()
		vc.Close()
		switch {
		case blur && captured >= 0:
			t.Errorf("blurred video: auto-capture fired at frame %d", captured)
		case !blur && (captured < int(settleEnd*fps) || captured > int(3.5*fps)):
			t.Errorf("auto-capture at frame %d, want between %d and %d", captured, int(settleEnd*fps), int(3.5*fps))
		}
		if rep, f, ok := sel.Best(); !blur && (!ok || !rep.Pass || f < int(approachEnd*fps)) {
			t.Errorf("best frame %d (ok %v)", f, ok)
		}
	}
}
