#include "native.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <dlib/dnn.h>
#include <dlib/image_processing.h>
#include <dlib/opencv/cv_image.h>
#include <opencv2/calib3d.hpp>
#include <opencv2/core.hpp>

using namespace dlib;

// The network of dlib's mmod_human_face_detector.dat (dlib's dnn_mmod_face_detection_ex).
template <long num_filters, typename SUBNET> using con5d = con<num_filters, 5, 5, 2, 2, SUBNET>;
template <long num_filters, typename SUBNET> using con5 = con<num_filters, 5, 5, 1, 1, SUBNET>;
template <typename SUBNET> using downsampler = relu<affine<con5d<32, relu<affine<con5d<32, relu<affine<con5d<16, SUBNET>>>>>>>>>;
template <typename SUBNET> using rcon5 = relu<affine<con5<45, SUBNET>>>;
using mmod_net = loss_mmod<con<1, 9, 9, 1, 1, rcon5<rcon5<rcon5<downsampler<input_rgb_image_pyramid<pyramid_down<6>>>>>>>>;

namespace {
struct Models {
	mmod_net net;
	shape_predictor sp;
};

char* dup(const std::string& s) { return strdup(s.c_str()); }
}

extern "C" void* nat_load(const char* cnn_path, const char* sp_path, char** err) {
	try {
		auto* m = new Models;
		deserialize(cnn_path) >> m->net;
		deserialize(sp_path) >> m->sp;
		return m;
	} catch (std::exception& e) {
		*err = dup(e.what());
		return nullptr;
	}
}

extern "C" void nat_free(void* h) { delete static_cast<Models*>(h); }

extern "C" int nat_detect(void* h, const uint8_t* bgr, int w, int hgt, int stride, double* out, int max, char** err) {
	try {
		auto* m = static_cast<Models*>(h);
		matrix<rgb_pixel> img(hgt, w);
		for (int y = 0; y < hgt; y++) {
			const uint8_t* row = bgr + (size_t)y * stride;
			for (int x = 0; x < w; x++) {
				img(y, x) = rgb_pixel(row[3 * x + 2], row[3 * x + 1], row[3 * x]);
			}
		}
		std::vector<mmod_rect> dets = m->net(img);
		for (size_t i = 0; i < dets.size() && (int)i < max; i++) {
			out[5 * i + 0] = dets[i].rect.left();
			out[5 * i + 1] = dets[i].rect.top();
			out[5 * i + 2] = dets[i].rect.right() + 1;
			out[5 * i + 3] = dets[i].rect.bottom() + 1;
			out[5 * i + 4] = dets[i].detection_confidence;
		}
		return (int)dets.size();
	} catch (std::exception& e) {
		*err = dup(e.what());
		return -1;
	}
}

extern "C" int nat_shape(void* h, const uint8_t* bgr, int w, int hgt, int stride, long x0, long y0, long x1, long y1, double* out, int max, char** err) {
	try {
		auto* m = static_cast<Models*>(h);
		cv::Mat mat(hgt, w, CV_8UC3, const_cast<uint8_t*>(bgr), stride);
		cv_image<bgr_pixel> img(mat);
		full_object_detection s = m->sp(img, rectangle(x0, y0, x1 - 1, y1 - 1));
		int n = (int)s.num_parts();
		for (int i = 0; i < n && i < max; i++) {
			out[2 * i] = s.part(i).x();
			out[2 * i + 1] = s.part(i).y();
		}
		return n;
	} catch (std::exception& e) {
		*err = dup(e.what());
		return -1;
	}
}

extern "C" int nat_pnp(const double* obj, const double* img, int n, double f, double cx, double cy, double* rot, double* t, char** err) {
	try {
		std::vector<cv::Point3d> o;
		std::vector<cv::Point2d> p;
		for (int i = 0; i < n; i++) {
			o.emplace_back(obj[3 * i], obj[3 * i + 1], obj[3 * i + 2]);
			p.emplace_back(img[2 * i], img[2 * i + 1]);
		}
		cv::Mat K = (cv::Mat_<double>(3, 3) << f, 0, cx, 0, f, cy, 0, 0, 1);
		cv::Mat rvec, tvec, R;
		if (!cv::solvePnP(o, p, K, cv::noArray(), rvec, tvec, false, cv::SOLVEPNP_ITERATIVE)) {
			*err = dup("solvePnP found no solution");
			return -1;
		}
		cv::Rodrigues(rvec, R);
		for (int i = 0; i < 9; i++) rot[i] = R.at<double>(i / 3, i % 3);
		for (int i = 0; i < 3; i++) t[i] = tvec.at<double>(i);
		return 0;
	} catch (std::exception& e) {
		*err = dup(e.what());
		return -1;
	}
}
