package biometrics

import (
	"fmt"
	"image"
	"image/color"
	"math"

	"gocv.io/x/gocv"
)

// Config configures an Assessor.
type Config struct {
	Thresholds Thresholds
	// MaxSide: images with a longer side are scaled down to it before analysis (speed).
	// Geometry in the report is always in input pixels. Default 1280.
	MaxSide int
	// DetectSide is the longer side of the copy the CNN face detector runs on (its cost
	// grows with pixels; it finds faces from about 40 px across). Default 320: a face box
	// of 160 px at 1280 (inter-eye ≈ 70 px) is still found. FineDetectSide, when larger,
	// is tried once more when nothing was found (small faces, photos); 0: never.
	DetectSide, FineDetectSide int
	// SkipTemplate: do not make a go-face template (live frames need none).
	SkipTemplate bool
}

// DefaultConfig returns DefaultThresholds, analysis at 1280 px and detection at 640 px
// (the face boxes at 640 place the shape predictor best; see docs/quality.md): for
// photos and kept frames.
func DefaultConfig() Config {
	return Config{Thresholds: DefaultThresholds(), MaxSide: 1280, DetectSide: 640}
}

// LiveConfig is for assessing camera frames during capture: analysis at 960 px,
// detection at 480 px (each face's box refined on a crop around it) and no template.
// Faces big enough to enrol (inter-eye ≥ 90 px at 720p, a box of ~70 px at 480) are
// found; the measures are reported in input pixels either way.
func LiveConfig() Config {
	return Config{Thresholds: DefaultThresholds(), MaxSide: 960, DetectSide: 480, SkipTemplate: true}
}

// Assessor judges image quality. It is safe for concurrent use (the Recognizer's
// goroutine serialises the dlib models; the pixel measures use no shared state).
type Assessor struct {
	rec *Recognizer
	cfg Config
}

// NewAssessor returns an Assessor using rec for detection, landmarks and templates.
// Zero MaxSide and DetectSide mean 1280 and 320; zero Thresholds mean DefaultThresholds.
func NewAssessor(rec *Recognizer, cfg Config) *Assessor {
	if cfg.MaxSide <= 0 {
		cfg.MaxSide = 1280
	}
	if cfg.DetectSide <= 0 {
		cfg.DetectSide = 320
	}
	if cfg.Thresholds.MaxLuminance == 0 && cfg.Thresholds.MinInterEye == 0 {
		cfg.Thresholds = DefaultThresholds()
	}
	return &Assessor{rec: rec, cfg: cfg}
}

// Close releases nothing today (the Recognizer is the caller's to close); it is kept so
// callers need not change when the Assessor holds resources again.
func (a *Assessor) Close() {}

// Config returns the assessor's configuration.
func (a *Assessor) Config() Config { return a.cfg }

// AssessBytes decodes a JPEG or PNG (see DecodeImage) and assesses it.
func (a *Assessor) AssessBytes(data []byte) (*Report, error) {
	m, err := DecodeImage(data)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return a.Assess(m)
}

// AssessImage assesses an image.Image.
func (a *Assessor) AssessImage(img image.Image) (*Report, error) {
	m, err := MatFromImage(img)
	if err != nil {
		return nil, err
	}
	defer m.Close()
	return a.Assess(m)
}

// rollRetries are the rotations (degrees) tried when the upright image shows no face:
// dlib's CNN finds faces rolled up to about ±20°, these reach ±45°.
var rollRetries = []float64{25, -25}

// findFaces detects faces in work (BGR) and fits their landmarks, all in work's pixels.
// dlib's HOG detector (through go-face, which also makes the descriptors) goes first: its
// boxes are the ones the 68-point predictor was trained on, so the landmarks (and the
// pose fitted to them) are steadiest on them, and it is the cheaper detector. Only when
// it finds nothing — head coverings, scarves, masks, turned or rolled faces — does the
// CNN detector run.
func (a *Assessor) findFaces(work gocv.Mat) ([]Face, error) {
	faces, err := a.hogFaces(work)
	if err != nil {
		return nil, err
	}
	if len(faces) > 0 {
		for i := range faces {
			d := faces[i].Descriptor
			if faces[i], err = a.levelled(work, faces[i]); err != nil {
				return nil, err
			}
			faces[i].Descriptor = d
		}
		return faces, nil
	}
	faces, err = a.detect(work, a.cfg.DetectSide)
	if err != nil {
		return nil, err
	}
	for _, deg := range rollRetries {
		if len(faces) > 0 {
			break
		}
		rot := gocv.GetRotationMatrix2D(image.Pt(work.Cols()/2, work.Rows()/2), deg, 1)
		turned := gocv.NewMat()
		gocv.WarpAffineWithParams(work, &turned, rot, image.Pt(work.Cols(), work.Rows()), gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
		faces, err = a.detect(turned, a.cfg.DetectSide)
		inv := invertAffine(rot)
		rot.Close()
		turned.Close()
		if err != nil {
			return nil, err
		}
		for i := range faces {
			faces[i] = faces[i].transformed(inv)
		}
	}
	if len(faces) == 0 && a.cfg.FineDetectSide > a.cfg.DetectSide {
		if faces, err = a.detect(work, a.cfg.FineDetectSide); err != nil {
			return nil, err
		}
	}
	for i := range faces {
		if faces[i], err = a.levelled(work, faces[i]); err != nil {
			return nil, err
		}
	}
	return faces, nil
}

func (a *Assessor) hogFaces(work gocv.Mat) ([]Face, error) {
	if a.cfg.SkipTemplate {
		// Live frames: the same detector without go-face's JPEG round trip and
		// descriptors (a ResNet pass per face, ~40% of a live assessment).
		boxes, err := a.rec.hogBoxes(work)
		if err != nil || len(boxes) == 0 {
			return nil, err
		}
		return a.rec.shapes68(work, boxes)
	}
	jpg, err := EncodeJPEG(work, 95)
	if err != nil {
		return nil, err
	}
	hog, err := a.rec.do(jpg, false)
	if err != nil || len(hog) == 0 {
		return nil, err
	}
	boxes := make([]image.Rectangle, len(hog))
	for i, h := range hog {
		boxes[i] = h.Rect
	}
	faces, err := a.rec.shapes68(work, boxes)
	if err != nil {
		return nil, err
	}
	if len(faces) == len(hog) {
		for i := range faces {
			faces[i].Descriptor = hog[i].Descriptor
			faces[i].Confidence = 0 // HOG gives none
		}
	}
	return faces, nil
}

// levelled refits the landmarks on copies of the face's surroundings turned by −15°, 0°
// and +15° and keeps the fit that is most upright in its own frame, then, if that face
// is still rolled by more than 3°, refits it turned exactly upright. dlib's shape
// predictor starts from an upright mean face in the box and follows a rolled face only
// part of the way (a 15° roll can read as 2°).
func (a *Assessor) levelled(work gocv.Mat, f Face) (Face, error) {
	best, bestRoll := f, rollOf(f.Shape)
	for _, h := range []float64{-15, 15} {
		g, r, err := a.fitTurned(work, f, h)
		if err != nil {
			return f, err
		}
		if g.Shape != nil && math.Abs(r) < math.Abs(bestRoll) {
			best, bestRoll = g, r
		}
	}
	if math.Abs(rollOf(best.Shape)) > 3 {
		g, _, err := a.fitTurned(work, best, -rollOf(best.Shape))
		if err != nil || g.Shape == nil {
			return best, err
		}
		best = g
	}
	best.Rect, best.Confidence = f.Rect, f.Confidence
	return a.symmetrised(work, best)
}

// mirror68 maps each iBUG landmark to its mirror image's counterpart.
var mirror68 = func() (m [ShapePoints]int) {
	pairs := [][2]int{{17, 26}, {18, 25}, {19, 24}, {20, 23}, {21, 22}, {31, 35}, {32, 34},
		{36, 45}, {37, 44}, {38, 43}, {39, 42}, {40, 47}, {41, 46}, {48, 54}, {49, 53}, {50, 52},
		{55, 59}, {56, 58}, {60, 64}, {61, 63}, {65, 67}}
	for i := range m {
		m[i] = i
	}
	for i := 0; i <= 16; i++ {
		m[i] = 16 - i
	}
	for _, p := range pairs {
		m[p[0]], m[p[1]] = p[1], p[0]
	}
	return m
}()

// symmetrised adds, for the pose fit only, the average of the fit and the fit on the
// mirrored image (mapped back): dlib's predictor is not mirror-symmetric, and without
// this a mirrored photo's yaw differed from the original's by more than 2°. The lid and
// lip measures keep the direct fit: averaging blurs a wink or a half-closed eye.
func (a *Assessor) symmetrised(work gocv.Mat, f Face) (Face, error) {
	flipped := gocv.NewMat()
	defer flipped.Close()
	gocv.Flip(work, &flipped, 1)
	W := work.Cols()
	box := image.Rect(W-f.Rect.Max.X, f.Rect.Min.Y, W-f.Rect.Min.X, f.Rect.Max.Y)
	got, err := a.rec.shapes68(flipped, []image.Rectangle{box})
	if err != nil || len(got) != 1 {
		return f, err
	}
	var s Shape
	for i := range s {
		q := got[0].Shape[mirror68[i]]
		p := f.Shape[i]
		s[i] = Point{(p.X + float64(W-1) - q.X) / 2, (p.Y + q.Y) / 2}
	}
	f.poseShape = &s
	return f, nil
}

func rollOf(s *Shape) float64 {
	l, r := s.ofiqEyes()
	return math.Atan2(l.Y-r.Y, r.X-l.X) * 180 / math.Pi
}

// fitTurned fits the landmarks of f on work turned by deg about the face (the face's box
// size, centred where the face then is) and maps them back; it also returns the roll the
// fit shows in the turned frame. A nil Shape means no fit.
func (a *Assessor) fitTurned(work gocv.Mat, f Face, deg float64) (Face, float64, error) {
	c := mean(f.Shape[:]...)
	rot := gocv.GetRotationMatrix2D(image.Pt(int(c.X), int(c.Y)), deg, 1)
	defer rot.Close()
	turned := gocv.NewMat()
	defer turned.Close()
	gocv.WarpAffineWithParams(work, &turned, rot, image.Pt(work.Cols(), work.Rows()), gocv.InterpolationLinear, gocv.BorderReplicate, color.RGBA{})
	fwd := affine{rot.GetDoubleAt(0, 0), rot.GetDoubleAt(0, 1), rot.GetDoubleAt(0, 2), rot.GetDoubleAt(1, 0), rot.GetDoubleAt(1, 1), rot.GetDoubleAt(1, 2)}
	fc := fwd.apply(Point{float64(f.Rect.Min.X+f.Rect.Max.X) / 2, float64(f.Rect.Min.Y+f.Rect.Max.Y) / 2})
	w, h := float64(f.Rect.Dx()), float64(f.Rect.Dy())
	box := image.Rect(int(fc.X-w/2), int(fc.Y-h/2), int(fc.X+w/2), int(fc.Y+h/2))
	got, err := a.rec.shapes68(turned, []image.Rectangle{box})
	if err != nil || len(got) != 1 {
		return Face{}, 0, err
	}
	r := rollOf(got[0].Shape)
	g := got[0].transformed(invertAffine(rot))
	g.Rect = f.Rect
	return g, r, nil
}

// detect finds faces on a copy of work scaled to side, then refines each box by running
// the detector again on a crop around it in which the face is refineWidth px wide: at
// 320 px the detector's box is only good to a few analysis pixels per detector pixel,
// and the shape predictor needs a box placed the way its training boxes were.
func (a *Assessor) detect(work gocv.Mat, side int) ([]Face, error) {
	faces, err := a.detectAt(work, side)
	if err != nil {
		return nil, err
	}
	bounds := image.Rect(0, 0, work.Cols(), work.Rows())
	for i, f := range faces {
		w := f.Rect.Dx()
		if float64(w)*float64(side)/float64(max(work.Cols(), work.Rows())) >= refineWidth {
			continue // found at a good resolution already
		}
		crop := f.Rect.Inset(-w * 6 / 10).Intersect(bounds)
		roi := work.Region(crop)
		sub := roi.Clone()
		roi.Close()
		k := math.Min(1, refineWidth/float64(w))
		got, err := a.detectAt(sub, int(float64(max(sub.Cols(), sub.Rows()))*k+0.5))
		sub.Close()
		if err != nil {
			return nil, err
		}
		best, bestIoU := -1, 0.3
		for j, g := range got {
			if iou := overlap(g.Rect.Add(crop.Min), f.Rect); iou > bestIoU {
				best, bestIoU = j, iou
			}
		}
		if best >= 0 {
			faces[i] = got[best].transformed(affine{1, 0, float64(crop.Min.X), 0, 1, float64(crop.Min.Y)})
			faces[i].Rect = got[best].Rect.Add(crop.Min)
		}
	}
	return faces, nil
}

// refineWidth: the face width (px) at which detect re-runs the detector around a face.
const refineWidth = 128.0

func (a *Assessor) detectAt(work gocv.Mat, side int) ([]Face, error) {
	k := 1.0
	small := work
	if long := max(work.Cols(), work.Rows()); long > side {
		k = float64(side) / float64(long)
		small = gocv.NewMat()
		defer small.Close()
		gocv.Resize(work, &small, image.Pt(int(float64(work.Cols())*k+0.5), int(float64(work.Rows())*k+0.5)), 0, 0, gocv.InterpolationArea)
	}
	return a.rec.detect68(work, small, k)
}

// Assess judges img (8-bit grey, BGR or BGRA; not modified). When no face is found it
// returns a report (with guidance) together with an error wrapping ErrNoFace.
func (a *Assessor) Assess(img gocv.Mat) (*Report, error) {
	if img.Empty() || img.Cols() <= 0 || img.Rows() <= 0 {
		return nil, &ImageError{Err: ErrImageEmpty}
	}
	if img.Cols() > MaxImageSide || img.Rows() > MaxImageSide || img.Cols()*img.Rows() > MaxImagePixels {
		return nil, &ImageError{Width: img.Cols(), Height: img.Rows(), Err: ErrImageTooLarge}
	}
	work, err := toBGR(img)
	if err != nil {
		return nil, err
	}
	defer work.Close()
	scale := 1.0
	if long := max(work.Cols(), work.Rows()); long > a.cfg.MaxSide {
		scale = float64(a.cfg.MaxSide) / float64(long)
		gocv.Resize(work, &work, image.Pt(int(float64(work.Cols())*scale+0.5), int(float64(work.Rows())*scale+0.5)), 0, 0, gocv.InterpolationArea)
	}
	faces, err := a.findFaces(work)
	if err != nil {
		return nil, err
	}
	rep := &Report{Width: img.Cols(), Height: img.Rows(), Scale: scale, Subject: -1}
	th := a.cfg.Thresholds
	if len(faces) == 0 {
		rep.add(th, Measure{ID: SingleFacePresent, Raw: 1, Score: 0, Pass: false, Limit: fmt.Sprintf("<= %g", th.MaxSecondFace), Detail: "no face found"})
		rep.finish(th)
		return rep, fmt.Errorf("biometrics: assessing %dx%d image: %w", rep.Width, rep.Height, ErrNoFace)
	}
	// OFIQ assesses the face with the largest detection box.
	subj := 0
	for i, f := range faces {
		if area(f.Rect) > area(faces[subj].Rect) {
			subj = i
		}
	}
	if err := measureFace(rep, th, work, faces, subj, scale); err != nil {
		return nil, err
	}
	rep.Subject = subj
	rep.Faces = make([]Face, len(faces))
	for i, f := range faces {
		rep.Faces[i] = f.scaled(1 / scale)
	}
	rep.Face = &rep.Faces[subj]
	if !a.cfg.SkipTemplate {
		d, ok := faces[subj].Descriptor, faces[subj].Descriptor != Descriptor{}
		if !ok { // found by the CNN only: go-face describes it on a crop
			if d, ok, err = a.descriptor(work, faces[subj]); err != nil {
				return nil, err
			}
		}
		if ok {
			rep.Face.Descriptor = d
			t := NewTemplate(d, a.rec.Jitter())
			rep.Template = &t
		}
	}
	l, r := rep.Face.Eyes()
	rep.Eyes = [2]Point{l, r}
	rep.finish(th)
	return rep, nil
}

func area(r image.Rectangle) int { return r.Dx() * r.Dy() }

// descriptor makes the go-face descriptor of face f of work: go-face runs its CNN
// detector on a crop around the face (so it is cheap and finds the same face) and the
// face it finds nearest f's box is used. ok is false when go-face finds none there.
func (a *Assessor) descriptor(work gocv.Mat, f Face) (Descriptor, bool, error) {
	w := float64(f.Rect.Dx())
	crop := image.Rect(int(float64(f.Rect.Min.X)-0.6*w), int(float64(f.Rect.Min.Y)-0.6*w), int(float64(f.Rect.Max.X)+0.6*w), int(float64(f.Rect.Max.Y)+0.6*w)).Intersect(image.Rect(0, 0, work.Cols(), work.Rows()))
	roi := work.Region(crop)
	defer roi.Close()
	// go-face's descriptor uses a 150 px chip: a face much larger gains nothing.
	k := math.Min(1, 300/w)
	sub := roi.Clone()
	defer sub.Close()
	if k < 1 {
		gocv.Resize(sub, &sub, image.Pt(int(float64(sub.Cols())*k+0.5), int(float64(sub.Rows())*k+0.5)), 0, 0, gocv.InterpolationArea)
	}
	jpg, err := EncodeJPEG(sub, 95)
	if err != nil {
		return Descriptor{}, false, err
	}
	got, err := a.rec.do(jpg, true)
	if err != nil {
		return Descriptor{}, false, err
	}
	want := scaleRect(f.Rect.Sub(crop.Min), k)
	best, bestIoU := -1, 0.3
	for i, g := range got {
		if iou := overlap(g.Rect, want); iou > bestIoU {
			best, bestIoU = i, iou
		}
	}
	if best < 0 {
		return Descriptor{}, false, nil
	}
	return got[best].Descriptor, true, nil
}

func overlap(a, b image.Rectangle) float64 {
	i := area(a.Intersect(b))
	u := area(a) + area(b) - i
	if u <= 0 {
		return 0
	}
	return float64(i) / float64(u)
}

func (f Face) scaled(s float64) Face {
	if s == 1 {
		return f
	}
	out := f
	out.Rect = scaleRect(f.Rect, s)
	for i, p := range f.Landmarks {
		out.Landmarks[i] = image.Pt(int(float64(p.X)*s+0.5), int(float64(p.Y)*s+0.5))
	}
	if f.Shape != nil {
		out.Shape = f.Shape.scaled(s)
	}
	return out
}

// affine is a 2×3 affine transform, row-major.
type affine [6]float64

func (m affine) apply(p Point) Point {
	return Point{m[0]*p.X + m[1]*p.Y + m[2], m[3]*p.X + m[4]*p.Y + m[5]}
}

func invertAffine(m gocv.Mat) affine {
	a, b, c := m.GetDoubleAt(0, 0), m.GetDoubleAt(0, 1), m.GetDoubleAt(0, 2)
	d, e, f := m.GetDoubleAt(1, 0), m.GetDoubleAt(1, 1), m.GetDoubleAt(1, 2)
	det := a*e - b*d
	return affine{e / det, -b / det, (b*f - c*e) / det, -d / det, a / det, (c*d - a*f) / det}
}

// transformed maps the face through m (box: the bounding box of the mapped corners).
func (f Face) transformed(m affine) Face {
	out := f
	if f.Shape != nil {
		var s Shape
		for i, p := range f.Shape {
			s[i] = m.apply(p)
		}
		out.Shape = &s
		out.Landmarks = s.fivePoint()
	}
	r := f.Rect
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range []Point{{float64(r.Min.X), float64(r.Min.Y)}, {float64(r.Max.X), float64(r.Min.Y)}, {float64(r.Min.X), float64(r.Max.Y)}, {float64(r.Max.X), float64(r.Max.Y)}} {
		q := m.apply(c)
		minX, minY, maxX, maxY = math.Min(minX, q.X), math.Min(minY, q.Y), math.Max(maxX, q.X), math.Max(maxY, q.Y)
	}
	out.Rect = image.Rect(int(minX), int(minY), int(maxX), int(maxY))
	return out
}
