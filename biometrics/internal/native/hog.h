// C interface to dlib's HOG frontal face detector (the detector go-face runs), without
// go-face's JPEG decode and descriptors: live frames need boxes, not templates.
#ifndef ES_HOG_H
#define ES_HOG_H
#include <stdint.h>
#ifdef __cplusplus
extern "C" {
#endif

void* nat_hog_new(char** err);
void nat_hog_free(void* h);

// nat_hog_detect runs the detector on a BGR image (stride in bytes) and writes up to max
// boxes as x0,y0,x1,y1,score. Returns how many it found (possibly more than max), or -1
// with *err set.
int nat_hog_detect(void* h, const uint8_t* bgr, int w, int hgt, int stride, double* out, int max, char** err);

#ifdef __cplusplus
}
#endif
#endif
