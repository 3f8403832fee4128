// Package native binds the few functions of Debian's dlib and OpenCV that gocv v0.32
// lacks, on raw pixels (no JPEG round trip): dlib's HOG and MMOD CNN face detectors, the
// 68- and 5-point shape predictors, the ResNet face descriptor computed from any of
// those shapes (with optional jitter), and OpenCV's solvePnP.
//
// A *Models is not safe for concurrent use (dlib's networks keep state): one goroutine
// owns it. SolvePnP is safe anywhere.
package native

// #cgo CXXFLAGS: -std=c++17 -Wall -O3 -DNDEBUG -march=native
// #cgo pkg-config: opencv4
// #cgo LDFLAGS: -ldlib -lblas -lcblas -llapack -ljpeg
// #include <stdlib.h>
// #include "native.h"
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// Models holds the loaded dlib models: the CNN and HOG detectors, both shape predictors
// and the descriptor network.
type Models struct{ h unsafe.Pointer }

// Paths names the model files Load reads.
type Paths struct {
	CNN     string // mmod_human_face_detector.dat
	Shape68 string // shape_predictor_68_face_landmarks.dat
	Shape5  string // shape_predictor_5_face_landmarks.dat
	ResNet  string // dlib_face_recognition_resnet_model_v1.dat
}

func cerr(e *C.char) error {
	if e == nil {
		return errors.New("native: unknown error")
	}
	defer C.free(unsafe.Pointer(e))
	return errors.New(C.GoString(e))
}

// Load reads the model files.
func Load(p Paths) (*Models, error) {
	cp, sp, sp5, rp := C.CString(p.CNN), C.CString(p.Shape68), C.CString(p.Shape5), C.CString(p.ResNet)
	defer C.free(unsafe.Pointer(cp))
	defer C.free(unsafe.Pointer(sp))
	defer C.free(unsafe.Pointer(sp5))
	defer C.free(unsafe.Pointer(rp))
	var e *C.char
	h := C.nat_load(cp, sp, sp5, rp, &e)
	if h == nil {
		return nil, fmt.Errorf("native: loading %s, %s, %s, %s: %w", p.CNN, p.Shape68, p.Shape5, p.ResNet, cerr(e))
	}
	return &Models{h: h}, nil
}

// Close frees the models. Safe to call twice.
func (m *Models) Close() {
	if m.h != nil {
		C.nat_free(m.h)
		m.h = nil
	}
}

// BGR is an 8-bit, 3-channel BGR image in memory: Stride bytes per row.
type BGR struct {
	Pix           []byte
	Width, Height int
	Stride        int
}

func (b BGR) check() error {
	if b.Width <= 0 || b.Height <= 0 || b.Stride < 3*b.Width || len(b.Pix) < (b.Height-1)*b.Stride+3*b.Width {
		return fmt.Errorf("native: bad image %dx%d stride %d (%d bytes)", b.Width, b.Height, b.Stride, len(b.Pix))
	}
	return nil
}

// Detection is one CNN face box with dlib's detection confidence (> 0 means detected at
// the default threshold).
type Detection struct {
	Rect       image.Rectangle
	Confidence float64
}

const maxDetections = 32

// Detect runs the CNN face detector. The network finds faces from about 40 px across.
func (m *Models) Detect(img BGR) ([]Detection, error) { return m.detect(img, false) }

// DetectHOG runs dlib's HOG frontal face detector (faces from about 80 px across;
// Confidence is its SVM score).
func (m *Models) DetectHOG(img BGR) ([]Detection, error) { return m.detect(img, true) }

func (m *Models) detect(img BGR, hog bool) ([]Detection, error) {
	if m.h == nil {
		return nil, errors.New("native: models closed")
	}
	if err := img.check(); err != nil {
		return nil, err
	}
	var out [5 * maxDetections]C.double
	var e *C.char
	pix, w, h, s := (*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(img.Width), C.int(img.Height), C.int(img.Stride)
	var n C.int
	name := "CNN"
	if hog {
		name = "HOG"
		n = C.nat_hog(m.h, pix, w, h, s, &out[0], maxDetections, &e)
	} else {
		n = C.nat_detect(m.h, pix, w, h, s, &out[0], maxDetections, &e)
	}
	if n < 0 {
		return nil, fmt.Errorf("native: %s detector: %w", name, cerr(e))
	}
	dets := make([]Detection, 0, min(int(n), maxDetections))
	for i := 0; i < int(n) && i < maxDetections; i++ {
		o := out[5*i:]
		dets = append(dets, Detection{Rect: image.Rect(int(o[0]), int(o[1]), int(o[2]), int(o[3])), Confidence: float64(o[4])})
	}
	return dets, nil
}

// Shape predicts the 68 landmarks of the face in box r.
func (m *Models) Shape(img BGR, r image.Rectangle) ([][2]float64, error) { return m.shape(img, r, 68) }

// Shape5 predicts the 5 landmarks (dlib's 5-point layout) of the face in box r.
func (m *Models) Shape5(img BGR, r image.Rectangle) ([][2]float64, error) { return m.shape(img, r, 5) }

func (m *Models) shape(img BGR, r image.Rectangle, points int) ([][2]float64, error) {
	if m.h == nil {
		return nil, errors.New("native: models closed")
	}
	if err := img.check(); err != nil {
		return nil, err
	}
	var out [2 * 194]C.double
	var e *C.char
	n := C.nat_shape(m.h, C.int(points), (*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(img.Width), C.int(img.Height), C.int(img.Stride),
		C.long(r.Min.X), C.long(r.Min.Y), C.long(r.Max.X), C.long(r.Max.Y), &out[0], 194, &e)
	if n < 0 {
		return nil, fmt.Errorf("native: shape predictor: %w", cerr(e))
	}
	pts := make([][2]float64, min(int(n), 194))
	for i := range pts {
		pts[i] = [2]float64{float64(out[2*i]), float64(out[2*i+1])}
	}
	return pts, nil
}

// ChipSize is the side of the face chip the descriptor network reads.
const ChipSize = 150

// Descriptor computes dlib's 128-d ResNet face descriptor of the face whose landmarks
// (5 or 68, dlib's layouts, in img's pixels) are pts: the network runs on the
// 150x150 chip of get_face_chip_details(shape, 150, 0.25), or, with jitter > 0, on that
// many jittered copies of it and the mean is returned (deterministic: the same input
// gives the same descriptor). If chip is not nil it receives the chip as
// ChipSize*ChipSize*3 RGB bytes (it must be that long).
func (m *Models) Descriptor(img BGR, pts [][2]float64, jitter int, chip []byte) ([128]float32, error) {
	var d [128]float32
	if m.h == nil {
		return d, errors.New("native: models closed")
	}
	if err := img.check(); err != nil {
		return d, err
	}
	if len(pts) != 5 && len(pts) != 68 {
		return d, fmt.Errorf("native: descriptor needs 5 or 68 landmarks, got %d", len(pts))
	}
	if jitter < 0 || jitter > 255 {
		return d, fmt.Errorf("native: jitter %d out of range 0–255", jitter)
	}
	if chip != nil && len(chip) != ChipSize*ChipSize*3 {
		return d, fmt.Errorf("native: chip buffer of %d bytes, want %d", len(chip), ChipSize*ChipSize*3)
	}
	p := make([]C.double, 0, 2*len(pts))
	for _, q := range pts {
		p = append(p, C.double(q[0]), C.double(q[1]))
	}
	var out [128]C.float
	var cp *C.uint8_t
	if chip != nil {
		cp = (*C.uint8_t)(unsafe.Pointer(&chip[0]))
	}
	var e *C.char
	if C.nat_descriptor(m.h, (*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(img.Width), C.int(img.Height), C.int(img.Stride),
		&p[0], C.int(len(pts)), C.int(jitter), &out[0], cp, &e) != 0 {
		return d, fmt.Errorf("native: descriptor: %w", cerr(e))
	}
	for i := range d {
		d[i] = float32(out[i])
	}
	return d, nil
}

// SolvePnP fits the object points to the image points for a pinhole camera (focal length
// f px, principal point cx, cy, no distortion) and returns the rotation (row-major 3×3)
// and translation that take object coordinates to OpenCV camera coordinates (x right, y
// down, z forward).
func SolvePnP(obj [][3]float64, img [][2]float64, f, cx, cy float64) (rot [9]float64, t [3]float64, err error) {
	if len(obj) != len(img) || len(obj) < 4 {
		return rot, t, fmt.Errorf("native: solvePnP needs ≥ 4 matching points, got %d and %d", len(obj), len(img))
	}
	o := make([]C.double, 0, 3*len(obj))
	p := make([]C.double, 0, 2*len(img))
	for i := range obj {
		o = append(o, C.double(obj[i][0]), C.double(obj[i][1]), C.double(obj[i][2]))
		p = append(p, C.double(img[i][0]), C.double(img[i][1]))
	}
	var r [9]C.double
	var tt [3]C.double
	var e *C.char
	if C.nat_pnp(&o[0], &p[0], C.int(len(obj)), C.double(f), C.double(cx), C.double(cy), &r[0], &tt[0], &e) != 0 {
		return rot, t, fmt.Errorf("native: %w", cerr(e))
	}
	for i := range rot {
		rot[i] = float64(r[i])
	}
	for i := range t {
		t[i] = float64(tt[i])
	}
	return rot, t, nil
}
