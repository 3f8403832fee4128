// C interface to the few dlib and OpenCV functions gocv and go-face lack.
#ifndef ES_NATIVE_H
#define ES_NATIVE_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

// nat_load loads dlib's MMOD CNN face detector, the 68-point and the 5-point shape
// predictors and the ResNet descriptor network (dlib's HOG detector is built in). On
// failure it returns NULL and sets *err (free with free()).
void* nat_load(const char* cnn_path, const char* sp_path, const char* sp5_path, const char* resnet_path, char** err);
void nat_free(void* h);

// nat_detect runs the CNN detector on a BGR image (stride in bytes). It writes up to
// max detections as x0,y0,x1,y1,confidence and returns how many it found (which may be
// more than max), or -1 with *err set.
int nat_detect(void* h, const uint8_t* bgr, int w, int hgt, int stride, double* out, int max, char** err);

// nat_hog is nat_detect with dlib's HOG frontal face detector (on the image as given).
int nat_hog(void* h, const uint8_t* bgr, int w, int hgt, int stride, double* out, int max, char** err);

// nat_shape predicts the landmarks (points: 68 or 5, which predictor) of the face in box
// x0,y0,x1,y1 of a BGR image and writes them as x,y pairs to out (room for max points).
// Returns the number of points, or -1 with *err set.
int nat_shape(void* h, int points, const uint8_t* bgr, int w, int hgt, int stride, long x0, long y0, long x1, long y1, double* out, int max, char** err);

// nat_descriptor computes the 128-d ResNet descriptor of the face whose n (5 or 68)
// landmarks are pts (x,y pairs) in a BGR image: the 150x150 chip of
// get_face_chip_details(shape, 150, 0.25), or with jitter > 0 the mean over that many
// jittered copies of it. It writes the descriptor to out and, when chip_rgb is not
// NULL, the chip as 150*150*3 RGB bytes. Returns 0, or -1 with *err set.
int nat_descriptor(void* h, const uint8_t* bgr, int w, int hgt, int stride, const double* pts, int n, int jitter, float* out, uint8_t* chip_rgb, char** err);

// nat_pnp fits n object points (x,y,z) to n image points (x,y) with cv::solvePnP
// (iterative Levenberg-Marquardt) for a pinhole camera with focal length f and principal
// point cx,cy and no distortion. It writes the 3x3 rotation matrix (row-major) to rot
// and the translation to t. Returns 0, or -1 with *err set.
int nat_pnp(const double* obj, const double* img, int n, double f, double cx, double cy, double* rot, double* t, char** err);

#ifdef __cplusplus
}
#endif
#endif
