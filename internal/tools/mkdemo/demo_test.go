package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"

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
