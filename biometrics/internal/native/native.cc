#include "native.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <dlib/dnn.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>
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

// The network of dlib_face_recognition_resnet_model_v1.dat (dlib's
// dnn_face_recognition_ex.cpp; go-face's facerec.cc has the same definition).
template <template <int, template <typename> class, int, typename> class block, int N, template <typename> class BN, typename SUBNET>
using residual = add_prev1<block<N, BN, 1, tag1<SUBNET>>>;
template <template <int, template <typename> class, int, typename> class block, int N, template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;
template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;
template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;
template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;
using anet_type = loss_metric<fc_no_bias<128, avg_pool_everything<alevel0<alevel1<alevel2<alevel3<alevel4<
	max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

namespace {
struct Models {
	mmod_net net;
	shape_predictor sp;  // 68 points
	shape_predictor sp5; // 5 points
	anet_type resnet;
	frontal_face_detector hog = get_frontal_face_detector();
};

// The face chip the descriptor network was trained on: 150x150, padding 0.25
// (dlib's dnn_face_recognition_ex.cpp).
const unsigned long chip_size = 150;
const double chip_padding = 0.25;

char* dup(const std::string& s) { return strdup(s.c_str()); }

// put_boxes writes up to max detections (dlib's mmod_rect or rect_detection) as
// x0,y0,x1,y1,confidence with exclusive right/bottom, and returns how many there were.
template <typename D> int put_boxes(const std::vector<D>& dets, double* out, int max) {
	for (size_t i = 0; i < dets.size() && (int)i < max; i++) {
		out[5 * i + 0] = dets[i].rect.left();
		out[5 * i + 1] = dets[i].rect.top();
		out[5 * i + 2] = dets[i].rect.right() + 1;
		out[5 * i + 3] = dets[i].rect.bottom() + 1;
		out[5 * i + 4] = dets[i].detection_confidence;
	}
	return (int)dets.size();
}
}

extern "C" void* nat_load(const char* cnn_path, const char* sp_path, const char* sp5_path, const char* resnet_path, char** err) {
	Models* m = nullptr;
	try {
		m = new Models;
		deserialize(cnn_path) >> m->net;
		deserialize(sp_path) >> m->sp;
		deserialize(sp5_path) >> m->sp5;
		deserialize(resnet_path) >> m->resnet;
		return m;
	} catch (std::exception& e) {
		delete m;
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
		return put_boxes(dets, out, max);
	} catch (std::exception& e) {
		*err = dup(e.what());
		return -1;
	}
}

extern "C" int nat_hog(void* h, const uint8_t* bgr, int w, int hgt, int stride, double* out, int max, char** err) {
	try {
		auto* m = static_cast<Models*>(h);
		cv::Mat mat(hgt, w, CV_8UC3, const_cast<uint8_t*>(bgr), stride);
		cv_image<bgr_pixel> img(mat);
		std::vector<rect_detection> dets;
		m->hog(img, dets);
		return put_boxes(dets, out, max);
	} catch (std::exception& e) {
		*err = dup(e.what());
		return -1;
	}
}

extern "C" int nat_shape(void* h, int points, const uint8_t* bgr, int w, int hgt, int stride, long x0, long y0, long x1, long y1, double* out, int max, char** err) {
	try {
		auto* m = static_cast<Models*>(h);
		cv::Mat mat(hgt, w, CV_8UC3, const_cast<uint8_t*>(bgr), stride);
		cv_image<bgr_pixel> img(mat);
		shape_predictor& sp = points == 5 ? m->sp5 : m->sp;
		full_object_detection s = sp(img, rectangle(x0, y0, x1 - 1, y1 - 1));
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

extern "C" int nat_descriptor(void* h, const uint8_t* bgr, int w, int hgt, int stride, const double* pts, int n, int jitter, float* out, uint8_t* chip_rgb, char** err) {
	try {
		auto* m = static_cast<Models*>(h);
		if (n != 5 && n != 68) {
			*err = dup("descriptor needs 5 or 68 landmarks, got " + std::to_string(n));
			return -1;
		}
		std::vector<point> parts;
		rectangle box;
		for (int i = 0; i < n; i++) {
			parts.emplace_back(std::lround(pts[2 * i]), std::lround(pts[2 * i + 1]));
			box += parts.back();
		}
		full_object_detection shape(box, parts);
		cv::Mat cvm(hgt, w, CV_8UC3, const_cast<uint8_t*>(bgr), stride);
		cv_image<bgr_pixel> img(cvm);
		// extract_image_chip converts pixel by pixel (assign_pixel), so the chip is RGB
		// as the network expects although the image is BGR.
		matrix<rgb_pixel> chip;
		extract_image_chip(img, get_face_chip_details(shape, chip_size, chip_padding), chip);
		matrix<float, 0, 1> d;
		if (jitter > 0) {
			// dnn_face_recognition_ex.cpp: the mean descriptor of jittered copies (shifted,
			// scaled, rotated a little, half of them mirrored). A fresh generator per call
			// makes the same face give the same template.
			dlib::rand rnd;
			std::vector<matrix<rgb_pixel>> crops;
			for (int i = 0; i < jitter; i++) crops.push_back(jitter_image(chip, rnd));
			d = mean(dlib::mat(m->resnet(crops)));
		} else {
			d = m->resnet(chip);
		}
		if (d.size() != 128) {
			*err = dup("descriptor network returned " + std::to_string(d.size()) + " values, want 128");
			return -1;
		}
		for (int i = 0; i < 128; i++) out[i] = d(i);
		if (chip_rgb) {
			for (long y = 0; y < chip.nr(); y++)
				for (long x = 0; x < chip.nc(); x++) {
					uint8_t* p = chip_rgb + 3 * (y * chip.nc() + x);
					p[0] = chip(y, x).red;
					p[1] = chip(y, x).green;
					p[2] = chip(y, x).blue;
				}
		}
		return 0;
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
