// C interface to the few dlib and OpenCV functions gocv and go-face lack.
#ifndef ES_NATIVE_H
#define ES_NATIVE_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

// nat_load loads dlib's MMOD CNN face detector and a shape predictor. On failure it
// returns NULL and sets *err (free with free()).
void* nat_load(const char* cnn_path, const char* sp_path, char** err);
void nat_free(void* h);

// nat_detect runs the CNN detector on a BGR image (stride in bytes). It writes up to
// max detections as x0,y0,x1,y1,confidence and returns how many it found (which may be
// more than max), or -1 with *err set.
int nat_detect(void* h, const uint8_t* bgr, int w, int hgt, int stride, double* out, int max, char** err);

// nat_shape predicts the landmarks of the face in box x0,y0,x1,y1 of a BGR image and
// writes them as x,y pairs to out (room for max points). Returns the number of points,
// or -1 with *err set.
int nat_shape(void* h, const uint8_t* bgr, int w, int hgt, int stride, long x0, long y0, long x1, long y1, double* out, int max, char** err);

// nat_pnp fits n object points (x,y,z) to n image points (x,y) with cv::solvePnP
// (iterative Levenberg-Marquardt) for a pinhole camera with focal length f and principal
// point cx,cy and no distortion. It writes the 3x3 rotation matrix (row-major) to rot
// and the translation to t. Returns 0, or -1 with *err set.
int nat_pnp(const double* obj, const double* img, int n, double f, double cx, double cy, double* rot, double* t, char** err);

#ifdef __cplusplus
}
#endif
#endif
