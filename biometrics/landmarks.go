package biometrics

import (
	"image"
	"math"

	"enrollstation/biometrics/internal/native"
)

// ShapePoints is the number of landmarks of dlib's 68-point predictor (iBUG 300-W layout).
const ShapePoints = 68

// Shape holds the 68 iBUG 300-W landmarks. "Left" and "right" are as seen in the image:
// the image-left eye is the subject's right eye.
type Shape [ShapePoints]Point

// iBUG 300-W landmark indices (0-based) used by the measures.
const (
	shChin          = 8
	shLeftEyeOuter  = 36 // image-left eye: 36–41
	shLeftEyeInner  = 39
	shRightEyeInner = 42 // image-right eye: 42–47
	shRightEyeOuter = 45
	shNoseTip       = 30
	shNoseBase      = 33
	shMouthLeft     = 48
	shMouthRight    = 54
	shInnerLipTop   = 62
	shInnerLipBot   = 66
)

// Eyelid pairs (upper, lower) of each eye and inner-lip pairs (upper, lower): the 68-point
// counterparts of OFIQ's ADNet pairs (61,67)(62,66)(63,65) / (69,75)(70,74)(71,73) and
// (89,95)(90,94)(91,93). The 68-point eye has two pairs where ADNet's has three.
var (
	leftEyePairs  = [][2]int{{37, 41}, {38, 40}}
	rightEyePairs = [][2]int{{43, 47}, {44, 46}}
	innerLipPairs = [][2]int{{61, 67}, {62, 66}, {63, 65}}
)

func mean(pts ...Point) Point {
	var p Point
	for _, q := range pts {
		p.X += q.X
		p.Y += q.Y
	}
	return Point{p.X / float64(len(pts)), p.Y / float64(len(pts))}
}

func dist(a, b Point) float64 { return math.Hypot(a.X-b.X, a.Y-b.Y) }

// EyeCentres returns the mean of each eye's six landmarks (image-left, image-right):
// the eye centres of ISO/IEC 39794-5, used for the portrait crop and guidance.
func (s *Shape) EyeCentres() (left, right Point) {
	return mean(s[36:42]...), mean(s[42:48]...)
}

// ofiqEyes returns OFIQ's eye centres: the midpoint of each eye's two corners.
func (s *Shape) ofiqEyes() (left, right Point) {
	return mean(s[shLeftEyeOuter], s[shLeftEyeInner]), mean(s[shRightEyeInner], s[shRightEyeOuter])
}

// tMetric is OFIQ's T: the distance from the eye midpoint (OFIQ's eye centres) to the
// chin landmark.
func (s *Shape) tMetric() float64 {
	l, r := s.ofiqEyes()
	return dist(mean(l, r), s[shChin])
}

// maxPair is OFIQ's GetMaxPairDistance: the largest distance over the pairs.
func (s *Shape) maxPair(pairs [][2]int) float64 {
	m := 0.0
	for _, p := range pairs {
		m = math.Max(m, dist(s[p[0]], s[p[1]]))
	}
	return m
}

// Crown estimates the top of the head from the jaw line: as far above the eye midpoint
// as the chin is below it, along the face's own vertical. Hair and head coverings are
// not seen by the landmarks, so this is the skull's crown, as ISO/IEC 39794-5 means it.
func (s *Shape) Crown() Point {
	l, r := s.EyeCentres()
	m := mean(l, r)
	c := s[shChin]
	return Point{2*m.X - c.X, 2*m.Y - c.Y}
}

// Chin returns the chin landmark (the lowest point of the jaw line).
func (s *Shape) Chin() Point { return s[shChin] }

// fivePoint maps the 68 landmarks to dlib's 5-point layout (eye corners, nose base).
func (s *Shape) fivePoint() [5]image.Point {
	pt := func(p Point) image.Point { return image.Pt(int(math.Round(p.X)), int(math.Round(p.Y))) }
	var f [5]image.Point
	f[LmRightEyeOuter] = pt(s[shRightEyeOuter])
	f[LmRightEyeInner] = pt(s[shRightEyeInner])
	f[LmLeftEyeOuter] = pt(s[shLeftEyeOuter])
	f[LmLeftEyeInner] = pt(s[shLeftEyeInner])
	f[LmNose] = pt(s[shNoseBase])
	return f
}

func (s *Shape) scaled(k float64) *Shape {
	var o Shape
	for i, p := range s {
		o[i] = Point{p.X * k, p.Y * k}
	}
	return &o
}

// poseModel is a generic 3-D face: 14 points of the anthropometric head model of Martins
// and Batista (ISR Coimbra), as lincolnhard/head-pose-estimation pairs them with dlib's
// 68 landmarks, with x mirrored so the frame is right-handed: x toward the image's right,
// y up, z out of the face toward the camera (units: cm).
var poseModel = []struct {
	lm  int
	xyz [3]float64
}{
	{17, [3]float64{-6.825897, 6.760612, 4.402142}}, // image-left brow, outer end
	{21, [3]float64{-1.330353, 7.122144, 6.903745}}, // image-left brow, inner end
	{22, [3]float64{1.330353, 7.122144, 6.903745}},
	{26, [3]float64{6.825897, 6.760612, 4.402142}},
	{36, [3]float64{-5.311432, 5.485328, 3.987654}}, // image-left eye, outer corner
	{39, [3]float64{-1.789930, 5.393625, 4.413414}},
	{42, [3]float64{1.789930, 5.393625, 4.413414}},
	{45, [3]float64{5.311432, 5.485328, 3.987654}},
	{31, [3]float64{-2.005628, 1.409845, 6.165652}}, // nostrils
	{35, [3]float64{2.005628, 1.409845, 6.165652}},
	{48, [3]float64{-2.774015, -2.080775, 5.048531}}, // mouth corners
	{54, [3]float64{2.774015, -2.080775, 5.048531}},
	{57, [3]float64{0, -3.116408, 6.097667}}, // lower lip, middle
	{8, [3]float64{0, -7.415691, 4.070434}},  // chin
}

// headPose fits poseModel to the landmarks (OpenCV solvePnP; a pinhole camera with focal
// length = the image's longer side, about a 55° webcam) and returns the Euler angles in
// OFIQ's convention (utils.cpp rotationMatrixToEulerAngles on a frame with x right, y up,
// z toward the camera): yaw > 0 turned toward the image's right, pitch > 0 looking down,
// roll > 0 tilted counter-clockwise in the image.
func headPose(s *Shape, w, h int) (HeadPose, error) {
	obj := make([][3]float64, len(poseModel))
	img := make([][2]float64, len(poseModel))
	for i, m := range poseModel {
		obj[i] = m.xyz
		img[i] = [2]float64{s[m.lm].X, s[m.lm].Y}
	}
	// The principal point sits on the face, so the angles are relative to the line of
	// sight (as OFIQ's 3DDFA-V2 sees a face crop), wherever the face is in the frame.
	c := mean(s[:]...)
	rcv, _, err := native.SolvePnP(obj, img, float64(max(w, h)), c.X, c.Y)
	if err != nil {
		return HeadPose{}, err
	}
	// OpenCV's camera frame has y down and z away from the camera: flip both to get the
	// frame above (R = diag(1,-1,-1) · Rcv), in which a frontal face has R = I.
	var R [3][3]float64
	for c := 0; c < 3; c++ {
		R[0][c] = rcv[c]
		R[1][c] = -rcv[3+c]
		R[2][c] = -rcv[6+c]
	}
	return eulerOFIQ(R), nil
}

// eulerOFIQ is OFIQ's rotationMatrixToEulerAngles (R = Rz(roll)·Ry(yaw)·Rx(pitch)).
func eulerOFIQ(R [3][3]float64) HeadPose {
	const deg = 180 / math.Pi
	var pitch, yaw, roll float64
	switch {
	case R[2][0] > 0.9975:
		yaw = -math.Pi / 2
		pitch = math.Atan2(-R[0][1], -R[0][2])
	case R[2][0] < -0.9975:
		yaw = math.Pi / 2
		pitch = math.Atan2(R[0][1], R[0][2])
	default:
		yaw = -math.Asin(R[2][0])
		c := math.Cos(yaw)
		pitch = math.Atan2(R[2][1]/c, R[2][2]/c)
		roll = math.Atan2(R[1][0]/c, R[0][0]/c)
	}
	return HeadPose{Yaw: yaw * deg, Pitch: pitch * deg, Roll: roll * deg}
}
