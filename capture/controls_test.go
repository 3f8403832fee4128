package capture

import (
	"encoding/json"
	"errors"
	"sync"
	"sync/atomic"
	"testing"

	"gocv.io/x/gocv"
)

// fakeProps behaves like a UVC camera behind OpenCV's V4L2 backend: manual exposure,
// temperature and focus are ignored while their auto mode is on, and a control the
// camera lacks reads as -1.
type fakeProps struct {
	mu     sync.Mutex
	props  map[gocv.VideoCaptureProperties]float64
	sets   []gocv.VideoCaptureProperties
	unplug atomic.Bool
}

func newFakeProps() *fakeProps {
	return &fakeProps{props: map[gocv.VideoCaptureProperties]float64{
		gocv.VideoCaptureAutoExposure:  v4l2ExposureAperture,
		gocv.VideoCaptureExposure:      156,
		gocv.VideoCaptureGain:          0,
		gocv.VideoCaptureAutoWB:        1,
		gocv.VideoCaptureWBTemperature: 4600,
		gocv.VideoCaptureBrightness:    0,
		gocv.VideoCaptureContrast:      32,
		// no focus: a fixed-focus webcam
	}}
}

func (f *fakeProps) Set(p gocv.VideoCaptureProperties, v float64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets = append(f.sets, p)
	if _, ok := f.props[p]; !ok {
		return
	}
	switch {
	case p == gocv.VideoCaptureExposure && f.props[gocv.VideoCaptureAutoExposure] != v4l2ExposureManual:
		return
	case p == gocv.VideoCaptureWBTemperature && f.props[gocv.VideoCaptureAutoWB] != 0:
		return
	}
	f.props[p] = v
}

func (f *fakeProps) Get(p gocv.VideoCaptureProperties) float64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	if v, ok := f.props[p]; ok {
		return v
	}
	return -1
}

func fmtControls(c Controls) string {
	b, _ := json.Marshal(c)
	return string(b)
}

func TestApplyControls(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   Controls
		want string // JSON of the read-back
		err  error
	}{
		{"read only", Controls{},
			`{"auto_exposure":true,"exposure":156,"gain":0,"auto_white_balance":true,"wb_temperature":4600,"brightness":0,"contrast":32}`, nil},
		{"manual exposure and white balance", Controls{AutoExposure: ptr(false), Exposure: ptr(300.0), AutoWhiteBalance: ptr(false), WBTemperature: ptr(5500.0), Gain: ptr(12.0)},
			`{"auto_exposure":false,"exposure":300,"gain":12,"auto_white_balance":false,"wb_temperature":5500,"brightness":0,"contrast":32}`, nil},
		{"manual value while auto stays on is not applied", Controls{Exposure: ptr(300.0)},
			`{"auto_exposure":true,"exposure":156,"gain":0,"auto_white_balance":true,"wb_temperature":4600,"brightness":0,"contrast":32}`, nil},
		{"negative brightness reads back", Controls{Brightness: ptr(-20.0), Contrast: ptr(40.0)},
			`{"auto_exposure":true,"exposure":156,"gain":0,"auto_white_balance":true,"wb_temperature":4600,"brightness":-20,"contrast":40}`, nil},
		{"focus on a fixed-focus camera is absent", Controls{AutoFocus: ptr(false), Focus: ptr(10.0)},
			`{"auto_exposure":true,"exposure":156,"gain":0,"auto_white_balance":true,"wb_temperature":4600,"brightness":0,"contrast":32}`, nil},
		{"bad temperature", Controls{WBTemperature: ptr(100.0)}, "", ErrBadControl},
		{"negative exposure", Controls{Exposure: ptr(-1.0)}, "", ErrBadControl},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dev := newFakeProps()
			got, err := applyControls(dev, tc.in)
			if !errors.Is(err, tc.err) {
				t.Fatalf("err = %v, want %v", err, tc.err)
			}
			if err != nil {
				if len(dev.sets) != 0 {
					t.Errorf("invalid controls still set %v", dev.sets)
				}
				return
			}
			if s := fmtControls(got); s != tc.want {
				t.Errorf("read back\n got %s\nwant %s", s, tc.want)
			}
		})
	}
}
