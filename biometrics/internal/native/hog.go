package native

// #include <stdlib.h>
// #include "hog.h"
import "C"

import (
	"errors"
	"fmt"
	"image"
	"unsafe"
)

// HOG is dlib's HOG frontal face detector (get_frontal_face_detector, the detector go-face
// runs). Like Models, one goroutine owns it.
type HOG struct{ h unsafe.Pointer }

// NewHOG builds the detector (its weights are compiled into dlib: no file).
func NewHOG() (*HOG, error) {
	var e *C.char
	h := C.nat_hog_new(&e)
	if h == nil {
		return nil, fmt.Errorf("native: HOG detector: %w", cerr(e))
	}
	return &HOG{h: h}, nil
}

// Close frees the detector. Safe to call twice.
func (d *HOG) Close() {
	if d.h != nil {
		C.nat_hog_free(d.h)
		d.h = nil
	}
}

// Detect returns the face boxes dlib's HOG detector finds at its default threshold, with
// its detection score as Confidence.
func (d *HOG) Detect(img BGR) ([]Detection, error) {
	if d.h == nil {
		return nil, errors.New("native: HOG detector closed")
	}
	if err := img.check(); err != nil {
		return nil, err
	}
	var out [5 * maxDetections]C.double
	var e *C.char
	n := C.nat_hog_detect(d.h, (*C.uint8_t)(unsafe.Pointer(&img.Pix[0])), C.int(img.Width), C.int(img.Height), C.int(img.Stride), &out[0], maxDetections, &e)
	if n < 0 {
		return nil, fmt.Errorf("native: HOG detector: %w", cerr(e))
	}
	dets := make([]Detection, 0, min(int(n), maxDetections))
	for i := 0; i < int(n) && i < maxDetections; i++ {
		o := out[5*i:]
		dets = append(dets, Detection{Rect: image.Rect(int(o[0]), int(o[1]), int(o[2]), int(o[3])), Confidence: float64(o[4])})
	}
	return dets, nil
}
