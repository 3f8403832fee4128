#include "hog.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <vector>

#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/core.hpp>

extern "C" void* nat_hog_new(char** err) {
	try {
		return new dlib::frontal_face_detector(dlib::get_frontal_face_detector());
	} catch (std::exception& e) {
		*err = strdup(e.what());
		return nullptr;
	}
}

extern "C" void nat_hog_free(void* h) { delete static_cast<dlib::frontal_face_detector*>(h); }

extern "C" int nat_hog_detect(void* h, const uint8_t* bgr, int w, int hgt, int stride, double* out, int max, char** err) {
	try {
		auto* d = static_cast<dlib::frontal_face_detector*>(h);
		cv::Mat mat(hgt, w, CV_8UC3, const_cast<uint8_t*>(bgr), stride);
		dlib::cv_image<dlib::bgr_pixel> img(mat);
		std::vector<dlib::rect_detection> dets;
		(*d)(img, dets, 0.0);
		for (size_t i = 0; i < dets.size() && (int)i < max; i++) {
			out[5 * i + 0] = dets[i].rect.left();
			out[5 * i + 1] = dets[i].rect.top();
			out[5 * i + 2] = dets[i].rect.right() + 1;
			out[5 * i + 3] = dets[i].rect.bottom() + 1;
			out[5 * i + 4] = dets[i].detection_confidence;
		}
		return (int)dets.size();
	} catch (std::exception& e) {
		*err = strdup(e.what());
		return -1;
	}
}
