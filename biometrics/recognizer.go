package biometrics

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"image"
	"image/color"
	"math"
	"path/filepath"
	"sort"
	"sync"

	face "github.com/Kagami/go-face"
	"gocv.io/x/gocv"

	"enrollstation/biometrics/internal/native"
)

// Descriptor is go-face's 128-dimensional face descriptor.
type Descriptor [128]float32

// Distance is the Euclidean distance between two descriptors (go-face's metric).
func (d Descriptor) Distance(o Descriptor) float64 {
	var s float32
	for i := range d {
		x := d[i] - o[i]
		s += x * x
	}
	return math.Sqrt(float64(s))
}

// Landmark indices of dlib's 5-point shape predictor. "Right" and "left" are as seen in
// the image: RightEye* is the eye nearer the image's right border (the subject's left eye).
const (
	LmRightEyeOuter = 0
	LmRightEyeInner = 1
	LmLeftEyeOuter  = 2
	LmLeftEyeInner  = 3
	LmNose          = 4 // base of the nose
)

// Face is one face found: its detection box, 5 landmarks (dlib's 5-point layout), and,
// when the CNN detector and the 68-point predictor found it (Assess), the 68 iBUG
// landmarks and the detector's confidence; the descriptor when go-face made one. All in
// the pixel coordinates of the image it was found in.
type Face struct {
	Rect       image.Rectangle
	Landmarks  [5]image.Point
	Shape      *Shape  // 68 landmarks, nil for go-face-only faces (Recognize)
	Confidence float64 // CNN detection confidence, 0 for go-face-only faces
	Descriptor Descriptor
	poseShape  *Shape // mirror-symmetrised landmarks for the pose fit (Assess only)
}

// Eyes returns the centres of the image-left and image-right eye: the mean of each eye's
// six landmarks when the 68 are known, else of its two corner landmarks.
func (f Face) Eyes() (left, right Point) {
	if f.Shape != nil {
		return f.Shape.EyeCentres()
	}
	l := f.Landmarks
	left = Point{float64(l[LmLeftEyeOuter].X+l[LmLeftEyeInner].X) / 2, float64(l[LmLeftEyeOuter].Y+l[LmLeftEyeInner].Y) / 2}
	right = Point{float64(l[LmRightEyeOuter].X+l[LmRightEyeInner].X) / 2, float64(l[LmRightEyeOuter].Y+l[LmRightEyeInner].Y) / 2}
	return left, right
}

// InterEye is the distance between the eye centres in pixels.
func (f Face) InterEye() float64 {
	l, r := f.Eyes()
	return math.Hypot(r.X-l.X, r.Y-l.Y)
}

// Point is a sub-pixel image position.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

type faceJSON struct {
	Rect       [4]int       `json:"rect"`                 // x0, y0, x1, y1
	Landmarks  [5][2]int    `json:"landmarks"`            // x, y in dlib 5-point order
	Shape      [][2]float64 `json:"shape,omitempty"`      // x, y of the 68 iBUG landmarks
	Confidence float64      `json:"confidence,omitempty"` // CNN detection confidence
}

// MarshalJSON writes the box as [x0,y0,x1,y1] and the landmarks as [x,y] pairs; the
// descriptor is not included (use Template).
func (f Face) MarshalJSON() ([]byte, error) {
	j := faceJSON{Rect: [4]int{f.Rect.Min.X, f.Rect.Min.Y, f.Rect.Max.X, f.Rect.Max.Y}}
	for i, p := range f.Landmarks {
		j.Landmarks[i] = [2]int{p.X, p.Y}
	}
	if f.Shape != nil {
		for _, p := range f.Shape {
			j.Shape = append(j.Shape, [2]float64{round(p.X, 1), round(p.Y, 1)})
		}
	}
	j.Confidence = round(f.Confidence, 3)
	return json.Marshal(j)
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Face) UnmarshalJSON(b []byte) error {
	var j faceJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*f = Face{Rect: image.Rect(j.Rect[0], j.Rect[1], j.Rect[2], j.Rect[3]), Confidence: j.Confidence}
	for i, p := range j.Landmarks {
		f.Landmarks[i] = image.Pt(p[0], p[1])
	}
	switch len(j.Shape) {
	case 0:
	case ShapePoints:
		var s Shape
		for i, p := range j.Shape {
			s[i] = Point{p[0], p[1]}
		}
		f.Shape = &s
	default:
		return fmt.Errorf("biometrics: face JSON has %d shape points, want %d", len(j.Shape), ShapePoints)
	}
	return nil
}

var (
	// ErrClosed is returned by a Recognizer after Close.
	ErrClosed = errors.New("biometrics: recognizer closed")
	// ErrNoFace means no face was found in the image.
	ErrNoFace = errors.New("biometrics: no face found")
)

// RecognizerConfig configures a Recognizer.
type RecognizerConfig struct {
	ModelsDir string // holds the three dlib model files (see VerifyModels)
	// Jitter, when > 0, averages the descriptor over that many jittered copies of the
	// face chip: slightly more stable templates, Jitter times slower recognition.
	Jitter int
}

// Recognizer runs go-face. One goroutine owns the go-face recognizer (which is not safe
// to share) and serves requests in order; the methods are safe for concurrent use.
type Recognizer struct {
	reqs      chan recReq
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	cfg       RecognizerConfig
}

type recReq struct {
	jpeg  []byte
	cnn   bool
	shape *shapeReq   // set: run the CNN detector and the 68-point predictor instead of go-face
	hog   *native.BGR // set: only dlib's HOG detector, no go-face descriptors (live frames)
	reply chan recResp
}

// shapeReq asks for CNN detection on small and 68 landmarks on full for every box found
// (boxes scaled by 1/scale). Both images belong to the caller, who waits for the reply.
type shapeReq struct {
	full, small native.BGR
	scale       float64           // small pixels per full pixel
	boxes       []image.Rectangle // if set: no detection, landmarks for these boxes of full
}

type recResp struct {
	boxes  []image.Rectangle
	faces  []face.Face
	shapes []Face
	err    error
}

// NewRecognizer verifies the models in modelsDir (see VerifyModels) and loads them.
func NewRecognizer(modelsDir string) (*Recognizer, error) {
	return NewRecognizerConfig(RecognizerConfig{ModelsDir: modelsDir})
}

// NewRecognizerConfig is NewRecognizer with options.
func NewRecognizerConfig(cfg RecognizerConfig) (*Recognizer, error) {
	if err := VerifyModels(cfg.ModelsDir); err != nil {
		return nil, err
	}
	r := &Recognizer{
		reqs: make(chan recReq),
		quit: make(chan struct{}),
		done: make(chan struct{}),
		cfg:  cfg,
	}
	started := make(chan error, 1)
	go r.run(started)
	if err := <-started; err != nil {
		return nil, err
	}
	return r, nil
}

func (r *Recognizer) run(started chan<- error) {
	defer close(r.done)
	var rec *face.Recognizer
	var err error
	if r.cfg.Jitter > 0 {
		rec, err = face.NewRecognizerWithConfig(r.cfg.ModelsDir, 150, 0.25, r.cfg.Jitter)
	} else {
		rec, err = face.NewRecognizer(r.cfg.ModelsDir)
	}
	if err != nil {
		started <- fmt.Errorf("biometrics: loading models from %s: %w (run scripts/setup)", r.cfg.ModelsDir, err)
		return
	}
	defer rec.Close()
	nat, err := native.Load(filepath.Join(r.cfg.ModelsDir, CNNDetectorFile), filepath.Join(r.cfg.ModelsDir, ShapePredictor68File))
	if err != nil {
		started <- fmt.Errorf("biometrics: loading models from %s: %w (run scripts/setup)", r.cfg.ModelsDir, err)
		return
	}
	defer nat.Close()
	hog, err := native.NewHOG()
	if err != nil {
		started <- fmt.Errorf("biometrics: %w", err)
		return
	}
	defer hog.Close()
	started <- nil
	for {
		select {
		case <-r.quit:
			return
		case q := <-r.reqs:
			var resp recResp
			if q.hog != nil {
				var dets []native.Detection
				dets, resp.err = hog.Detect(*q.hog)
				for _, d := range dets {
					resp.boxes = append(resp.boxes, d.Rect)
				}
			} else if q.shape != nil {
				resp.shapes, resp.err = detectShapes(nat, q.shape)
			} else if q.cnn {
				resp.faces, resp.err = rec.RecognizeCNN(q.jpeg)
			} else {
				resp.faces, resp.err = rec.Recognize(q.jpeg)
			}
			q.reply <- resp
		}
	}
}

// Close stops the recognizer's goroutine and frees the models. Safe to call twice.
func (r *Recognizer) Close() {
	r.closeOnce.Do(func() { close(r.quit) })
	<-r.done
}

// Jitter reports the configured jitter count (stored in templates).
func (r *Recognizer) Jitter() int { return r.cfg.Jitter }

// Recognize finds faces with dlib's HOG detector and returns them left to right, each
// with landmarks and descriptor. img is JPEG or PNG bytes in any colour layout; anything
// but a 3-channel JPEG is converted first (go-face reads only those). The image is used
// at its own resolution: downscale big photos first for speed (Assess does). No face is
// an empty result, not an error.
func (r *Recognizer) Recognize(img []byte) ([]Face, error) {
	return r.recognizeBytes(img, false)
}

// RecognizeCNN is Recognize with dlib's CNN (MMOD) detector: finds more profile and
// small faces, but is several times slower on CPU.
func (r *Recognizer) RecognizeCNN(img []byte) ([]Face, error) {
	return r.recognizeBytes(img, true)
}

// RecognizeMat is Recognize on an 8-bit grey, BGR or BGRA Mat (not modified).
func (r *Recognizer) RecognizeMat(m gocv.Mat) ([]Face, error) {
	jpg, err := matJPEG(m)
	if err != nil {
		return nil, err
	}
	return r.do(jpg, false)
}

func (r *Recognizer) recognizeBytes(img []byte, cnn bool) ([]Face, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(img))
	if err == nil && format == "jpeg" && cfg.ColorModel == color.YCbCrModel &&
		cfg.Width > 0 && cfg.Height > 0 && cfg.Width <= MaxImageSide && cfg.Height <= MaxImageSide && cfg.Width*cfg.Height <= MaxImagePixels {
		faces, err := r.do(img, cnn)
		// A truncated JPEG fails inside go-face; report it as our typed error.
		var le face.ImageLoadError
		if errors.As(err, &le) {
			return nil, &ImageError{Format: format, Width: cfg.Width, Height: cfg.Height, Err: ErrCorruptImage, Detail: err}
		}
		return faces, err
	}
	m, err := DecodeImage(img)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	jpg, err := EncodeJPEG(m, 95)
	if err != nil {
		return nil, err
	}
	return r.do(jpg, cnn)
}

func matJPEG(m gocv.Mat) ([]byte, error) {
	if m.Channels() == 3 && m.Type() == gocv.MatTypeCV8UC3 {
		return EncodeJPEG(m, 95)
	}
	bgr, err := toBGR(m)
	if err != nil {
		return nil, err
	}
	defer bgr.Close()
	return EncodeJPEG(bgr, 95)
}

func (r *Recognizer) do(jpg []byte, cnn bool) ([]Face, error) {
	reply := make(chan recResp, 1)
	select {
	case r.reqs <- recReq{jpeg: jpg, cnn: cnn, reply: reply}:
	case <-r.quit:
		return nil, ErrClosed
	}
	resp := <-reply
	if resp.err != nil {
		return nil, fmt.Errorf("biometrics: go-face: %w", resp.err)
	}
	out := make([]Face, 0, len(resp.faces))
	for _, f := range resp.faces {
		if len(f.Shapes) != 5 {
			return nil, fmt.Errorf("biometrics: go-face returned %d landmarks, want 5 (wrong shape predictor?)", len(f.Shapes))
		}
		var ff Face
		ff.Rect = f.Rectangle
		copy(ff.Landmarks[:], f.Shapes)
		ff.Descriptor = Descriptor(f.Descriptor)
		out = append(out, ff)
	}
	return out, nil
}

// detectShapes runs on the recognizer's goroutine (it owns nat).
func detectShapes(nat *native.Models, q *shapeReq) ([]Face, error) {
	var dets []native.Detection
	if q.boxes != nil {
		for _, b := range q.boxes {
			dets = append(dets, native.Detection{Rect: b})
		}
	} else {
		var err error
		if dets, err = nat.Detect(q.small); err != nil {
			return nil, err
		}
	}
	bounds := image.Rect(0, 0, q.full.Width, q.full.Height)
	out := make([]Face, 0, len(dets))
	for _, d := range dets {
		r := d.Rect
		if q.boxes == nil {
			r = scaleRect(d.Rect, 1/q.scale)
		}
		if r.Intersect(bounds).Empty() {
			continue
		}
		pts, err := nat.Shape(q.full, r)
		if err != nil {
			return nil, err
		}
		if len(pts) != ShapePoints {
			return nil, fmt.Errorf("biometrics: shape predictor returned %d landmarks, want %d (wrong model?)", len(pts), ShapePoints)
		}
		var s Shape
		for i, p := range pts {
			s[i] = Point{p[0], p[1]}
		}
		out = append(out, Face{Rect: r, Landmarks: s.fivePoint(), Shape: &s, Confidence: d.Confidence})
	}
	return out, nil
}

// detect68 finds faces with the CNN detector on small (a downscaled copy of full,
// scale small px per full px) and fits the 68 landmarks on full. Faces are in full's
// pixels, left to right. Both Mats must be 8-bit BGR.
func (r *Recognizer) detect68(full, small gocv.Mat, scale float64) ([]Face, error) {
	fb, err := bgrView(full)
	if err != nil {
		return nil, err
	}
	sb, err := bgrView(small)
	if err != nil {
		return nil, err
	}
	reply := make(chan recResp, 1)
	select {
	case r.reqs <- recReq{shape: &shapeReq{full: fb, small: sb, scale: scale}, reply: reply}:
	case <-r.quit:
		return nil, ErrClosed
	}
	resp := <-reply
	if resp.err != nil {
		return nil, fmt.Errorf("biometrics: %w", resp.err)
	}
	sort.Slice(resp.shapes, func(i, j int) bool { return resp.shapes[i].Rect.Min.X < resp.shapes[j].Rect.Min.X })
	return resp.shapes, nil
}

func bgrView(m gocv.Mat) (native.BGR, error) {
	if m.Type() != gocv.MatTypeCV8UC3 || !m.IsContinuous() {
		return native.BGR{}, fmt.Errorf("biometrics: internal: want a continuous 8-bit BGR Mat, got type %v", m.Type())
	}
	pix, err := m.DataPtrUint8()
	if err != nil {
		return native.BGR{}, err
	}
	return native.BGR{Pix: pix, Width: m.Cols(), Height: m.Rows(), Stride: 3 * m.Cols()}, nil
}

// hogBoxes runs dlib's HOG face detector on img (8-bit BGR): go-face's detector without
// its JPEG round trip and descriptors, for frames that need no template.
func (r *Recognizer) hogBoxes(img gocv.Mat) ([]image.Rectangle, error) {
	b, err := bgrView(img)
	if err != nil {
		return nil, err
	}
	reply := make(chan recResp, 1)
	select {
	case r.reqs <- recReq{hog: &b, reply: reply}:
	case <-r.quit:
		return nil, ErrClosed
	}
	resp := <-reply
	if resp.err != nil {
		return nil, fmt.Errorf("biometrics: %w", resp.err)
	}
	sort.Slice(resp.boxes, func(i, j int) bool { return resp.boxes[i].Min.X < resp.boxes[j].Min.X })
	return resp.boxes, nil
}

// shapes68 fits the 68 landmarks for the given boxes of img (8-bit BGR), no detection.
func (r *Recognizer) shapes68(img gocv.Mat, boxes []image.Rectangle) ([]Face, error) {
	b, err := bgrView(img)
	if err != nil {
		return nil, err
	}
	reply := make(chan recResp, 1)
	select {
	case r.reqs <- recReq{shape: &shapeReq{full: b, boxes: boxes}, reply: reply}:
	case <-r.quit:
		return nil, ErrClosed
	}
	resp := <-reply
	if resp.err != nil {
		return nil, fmt.Errorf("biometrics: %w", resp.err)
	}
	return resp.shapes, nil
}
