// Package native binds the few functions of Debian's dlib and OpenCV that go-face and
// gocv v0.32 lack: dlib's MMOD CNN face detector and shape predictor on raw pixels (no
// descriptors, no JPEG round trip), and OpenCV's solvePnP.
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

// Models holds a loaded CNN detector and shape predictor.
type Models struct{ h unsafe.Pointer }

func cerr(e *C.char) error {
	if e == nil {
		return errors.New("native: unknown error")
	}
	defer C.free(unsafe.Pointer(e))
	return errors.New(C.GoString(e))
}

// Load reads dlib's mmod_human_face_detector.dat and a shape predictor file.
func Load(cnnPath, shapePath string) (*Models, error) {
	cp, sp := C.CString(cnnPath), C.CString(shapePath)
	defer C.free(unsafe.Pointer(cp))
	defer C.free(unsafe.Pointer(sp))
	var e *C.char
	h := C.nat_load(cp, sp, &e)
	if h == nil {
		return nil, fmt.Errorf("native: loading %s, %s: %w", cnnPath, shapePath, cerr(e))
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
func (m *Models) Detect(img BGR) ([]Detection, error) {
	if m.h == nil {
		return nil, errors.New("native: models closed")
	}
	if err := img.check(); err != nil {
		return nil, err
	}
	var out [5 * maxDetections]C.double
	var e *C.char
	n := C.nat_detect(m.h, (*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(img.Width), C.int(img.Height), C.int(img.Stride), &out[0], maxDetections, &e)
	if n < 0 {
		return nil, fmt.Errorf("native: CNN detector: %w", cerr(e))
	}
	dets := make([]Detection, 0, min(int(n), maxDetections))
	for i := 0; i < int(n) && i < maxDetections; i++ {
		o := out[5*i:]
		dets = append(dets, Detection{Rect: image.Rect(int(o[0]), int(o[1]), int(o[2]), int(o[3])), Confidence: float64(o[4])})
	}
	return dets, nil
}

// Shape predicts the landmarks of the face in box r.
func (m *Models) Shape(img BGR, r image.Rectangle) ([][2]float64, error) {
	if m.h == nil {
		return nil, errors.New("native: models closed")
	}
	if err := img.check(); err != nil {
		return nil, err
	}
	var out [2 * 194]C.double
	var e *C.char
	n := C.nat_shape(m.h, (*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(img.Width), C.int(img.Height), C.int(img.Stride),
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
