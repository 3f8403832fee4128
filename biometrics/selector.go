package biometrics

import "math"

// SelectorConfig configures best-frame selection and auto-capture.
type SelectorConfig struct {
	// StableFrames is how many consecutive analysed frames must pass with a still face
	// before auto-capture fires (DefaultStableFrames).
	StableFrames int
	// MaxMove is how far the eye midpoint may move from the streak's first frame, in
	// inter-eye distances, for the face to count as still (default 0.1). Measured from
	// the first frame, not the previous one, so a slow drift is not "still" at any
	// analysis rate.
	MaxMove float64
	// MaxSizeChange is the largest relative change of the inter-eye distance from the
	// streak's first frame for a still face (default 0.08).
	MaxSizeChange float64
}

// DefaultStableFrames is how many still, passing frames auto-capture waits for: at the
// live assessment's rate, about a second, also the countdown the clerk sees.
const DefaultStableFrames = 4

// Decision is what the Selector concluded from one frame.
type Decision struct {
	Streak  int  `json:"streak"`  // consecutive still, passing frames including this one
	Capture bool `json:"capture"` // the streak reached StableFrames: capture now
	Best    bool `json:"best"`    // this frame became the window's best
}

// Selector keeps the best frame of a capture window and decides when to auto-capture. F
// is the caller's frame type (e.g. a cloned gocv.Mat or an index). It is plain state,
// owned by one goroutine, and fed with reports in frame order.
type Selector[F any] struct {
	cfg      SelectorConfig
	streak   int
	anchor   *Report // the first frame of the current streak
	best     *Report
	bestF    F
	hasBest  bool
	captured bool
}

// NewSelector returns an empty Selector.
func NewSelector[F any](cfg SelectorConfig) *Selector[F] {
	if cfg.StableFrames <= 0 {
		cfg.StableFrames = DefaultStableFrames
	}
	if cfg.MaxMove <= 0 {
		cfg.MaxMove = 0.1
	}
	if cfg.MaxSizeChange <= 0 {
		cfg.MaxSizeChange = 0.08
	}
	return &Selector[F]{cfg: cfg}
}

// Offer feeds the report of the next analysed frame (nil when analysis found nothing
// usable) with the frame it came from. The Selector keeps the frame if it is the best so
// far; the frames it returns are no longer held (the offered one if not kept, or the
// previous best) and the caller may release them.
func (s *Selector[F]) Offer(r *Report, frame F) (Decision, []F) {
	var d Decision
	switch {
	case r != nil && r.Pass && r.Face != nil && s.still(r):
		s.streak++
	case r != nil && r.Pass && r.Face != nil:
		s.streak, s.anchor = 1, r
	default:
		s.streak, s.anchor = 0, nil
	}
	d.Streak = s.streak
	if s.streak >= s.cfg.StableFrames && !s.captured {
		d.Capture = true
		s.captured = true
	}
	// A passing frame that starts a new streak replaces a passing best from before it:
	// the capture is taken from the still spell that triggered it, not from a frame of
	// the subject still stepping in (which may score higher, and on a real camera may be
	// blurred by the motion).
	restart := s.streak == 1 && s.best != nil && s.best.Pass
	if r == nil || r.Face == nil || !(restart || better(r, s.best)) {
		return d, []F{frame}
	}
	var dropped []F
	if s.hasBest {
		dropped = append(dropped, s.bestF)
	}
	s.best, s.bestF, s.hasBest = r, frame, true
	d.Best = true
	return d, dropped
}

// better says whether r beats the current best: passing beats failing, then the higher
// combined score wins.
func better(r, best *Report) bool {
	if best == nil {
		return true
	}
	if r.Pass != best.Pass {
		return r.Pass
	}
	return r.Score > best.Score
}

func (s *Selector[F]) still(r *Report) bool {
	p := s.anchor
	if p == nil || s.streak == 0 {
		return false
	}
	d0, d1 := p.Face.InterEye(), r.Face.InterEye()
	if d0 <= 0 {
		return false
	}
	m0 := Point{(p.Eyes[0].X + p.Eyes[1].X) / 2, (p.Eyes[0].Y + p.Eyes[1].Y) / 2}
	m1 := Point{(r.Eyes[0].X + r.Eyes[1].X) / 2, (r.Eyes[0].Y + r.Eyes[1].Y) / 2}
	return math.Hypot(m1.X-m0.X, m1.Y-m0.Y) <= s.cfg.MaxMove*d0 && math.Abs(d1-d0) <= s.cfg.MaxSizeChange*d0
}

// Best returns the best frame of the window so far and its report.
func (s *Selector[F]) Best() (*Report, F, bool) {
	return s.best, s.bestF, s.hasBest
}

// Reset starts a new capture window (e.g. for a retake) and returns the frame it held.
func (s *Selector[F]) Reset() []F {
	var dropped []F
	if s.hasBest {
		dropped = append(dropped, s.bestF)
	}
	*s = Selector[F]{cfg: s.cfg}
	return dropped
}
