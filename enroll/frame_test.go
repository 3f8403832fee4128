package enroll

import (
	"bytes"
	"image/jpeg"
	"testing"

	"gocv.io/x/gocv"
)

func TestFrameJPEG(t *testing.T) {
	for _, tc := range []struct{ w, h, wantW, wantH int }{
		{1920, 1080, 1280, 720}, // landscape HD: long side scaled to the limit
		{1080, 1920, 720, 1280}, // portrait orientation
		{640, 480, 640, 480},    // small enough: kept as it is
		{1280, 720, 1280, 720},  // exactly the limit
	} {
		m := gocv.NewMatWithSizeFromScalar(gocv.NewScalar(40, 120, 200, 0), tc.h, tc.w, gocv.MatTypeCV8UC3)
		b, err := FrameJPEG(m)
		m.Close()
		if err != nil {
			t.Fatalf("%dx%d: %v", tc.w, tc.h, err)
		}
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(b))
		if err != nil || cfg.Width != tc.wantW || cfg.Height != tc.wantH {
			t.Errorf("%dx%d → %dx%d (%v), want %dx%d", tc.w, tc.h, cfg.Width, cfg.Height, err, tc.wantW, tc.wantH)
		}
	}
}
