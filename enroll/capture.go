package enroll

import (
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"gocv.io/x/gocv"

	"enrollstation/biometrics"
	"enrollstation/capture"
)

// Capture session errors.
var (
	ErrNothingToCapture = errors.New("workflow: no face seen yet to capture")
	ErrForceNotAllowed  = errors.New("workflow: a forced capture needs a reason and is allowed only after repeated failed attempts")
	ErrSessionEnded     = errors.New("workflow: the capture session has ended")
)

// Assessor judges frames (biometrics.Assessor).
type Assessor interface {
	Assess(img gocv.Mat) (*biometrics.Report, error)
}

// CaptureConfig configures a capture session.
type CaptureConfig struct {
	// Open opens the camera (capture.SpecOpener). The session's pump reopens it after a
	// disconnect.
	Open capture.Opener
	// Live assesses frames while the subject is positioned (LiveConfig); Final judges
	// the kept frame at full quality for the record (DefaultConfig).
	Live, Final Assessor
	// Tracker configures the preview-rate face boxes.
	Tracker biometrics.TrackerConfig
	// Selector configures best-frame selection and auto-capture; StableFrames is also
	// the countdown shown to the clerk (biometrics.DefaultStableFrames).
	Selector biometrics.SelectorConfig
	// PreviewWidth is the width the preview is scaled down to (default 640).
	PreviewWidth int
	// ForceAfter is how many failed attempts allow a forced capture (default 3).
	ForceAfter int
	// AutoCapture fires a capture as soon as the Selector says so (default on; set
	// ManualOnly to turn it off).
	ManualOnly bool
	// Portrait configures the ICAO crop.
	Portrait biometrics.PortraitConfig
	// Camera names the camera in the capture metadata.
	Camera string
	// Attempts carries failed attempts over from an earlier session of the same
	// enrollment (e.g. after switching camera).
	Attempts int
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// AnalysisFPS is the live analysis budget in analysed frames per second (default
	// by the machine's cores: DefaultAnalysisFPS). The analyser also rests at least as
	// long as each analysis took, so it never runs back to back and leaves the cores
	// to the preview (issue 16: a 2-core counter PC was saturated).
	AnalysisFPS float64
}

// DefaultAnalysisFPS is the live analysis rate for a machine with cores CPUs: enough
// for the selector's stable frames within a second or two, little enough to leave
// most of a 2-core counter PC to the preview.
func DefaultAnalysisFPS(cores int) float64 {
	if cores <= 2 {
		return 4
	}
	return 8
}

// CaptureEvents are the session's callbacks. Each may be called from any goroutine (the
// session's own), must return quickly and must not call the session's blocking methods;
// a GUI hands them to its UI thread. Nil callbacks are skipped.
type CaptureEvents struct {
	// Preview is a downscaled frame with the face boxes drawn in, for every frame the
	// camera delivers.
	Preview func(Preview)
	// Assessed reports each live assessment with the auto-capture state.
	Assessed func(Live)
	// Camera reports the camera's state (disconnected, reconnected...).
	Camera func(capture.Event)
	// Captured reports a finished capture (auto, manual or forced).
	Captured func(*Capture)
	// Failed reports a manual capture whose frame did not pass (attempts counted) or a
	// capture that could not be finished.
	Failed func(Attempt)
	// Ended reports that the session stopped, with why (nil after Stop).
	Ended func(error)
}

// Preview is one frame for display. Image is the receiver's until it calls Release.
type Preview struct {
	Image *image.RGBA
	Seq   uint64
	Faces int       // face boxes found by the tracker
	State FaceState // colour of the boxes drawn
	Time  time.Time

	buf *previewBuf // the session's buffer Image lives in
}

// Release hands Image back to the session, to be drawn into for a later frame, so the
// steady-state preview allocates nothing. Call it once Image will not be read again: a
// screen calls it for the frame it showed before, right after putting the next one up
// on the UI thread (Fyne's GL driver paints, and uploads an image's pixels into a GL
// texture, on that same thread, so once canvas.Image.Image is the next frame the old
// pixels are never read again). A receiver that keeps its images never calls it (the
// session then makes new ones). Safe from any goroutine; a second call does nothing.
func (p Preview) Release() {
	if b := p.buf; b != nil && b.out.CompareAndSwap(true, false) {
		select {
		case b.free <- b:
		default: // the ring is full (a buffer made while all were out): let it go
		}
	}
}

// previewBuffers is the size of the preview's buffer ring: one on screen, one waiting
// for the UI thread, one being drawn.
const previewBuffers = 3

// previewBuf is one RGBA buffer of the ring; out is set while a receiver holds it.
type previewBuf struct {
	img  *image.RGBA
	free chan *previewBuf
	out  atomic.Bool
}

// previewRing hands out free buffers. Only the preview loop takes; Release gives back.
type previewRing struct{ free chan *previewBuf }

// take returns a free buffer, or a new one when every buffer is still out: a frame is
// never drawn into pixels a receiver may still be reading.
func (r *previewRing) take() *previewBuf {
	if r.free == nil {
		r.free = make(chan *previewBuf, previewBuffers)
	}
	select {
	case b := <-r.free:
		return b
	default:
		return &previewBuf{free: r.free}
	}
}

// FaceState is how the face box is coloured.
type FaceState int

// Face states, from the last live assessment.
const (
	FaceNone    FaceState = iota // no assessment yet, or no face
	FaceAdjust                   // a face that fails some measure: follow the guidance
	FacePassing                  // passing: hold still
	FaceMany                     // more than one face
)

// Live is one live assessment.
type Live struct {
	Report    *biometrics.Report // nil when no face was found
	Guidance  biometrics.Guidance
	Streak    int // consecutive still, passing frames
	Countdown int // analysed frames until auto-capture (0 when not counting down)
	Attempts  int // failed attempts so far
	CanForce  bool
}

// Attempt is a failed capture attempt.
type Attempt struct {
	Report   *biometrics.Report // nil when no face
	Err      error
	Attempts int
	CanForce bool
}

// Capture is a finished capture: what review shows and what is stored.
type Capture struct {
	Frame    []byte // the kept camera frame, JPEG (FrameJPEG)
	Portrait []byte // the ICAO portrait, JPEG
	Geometry biometrics.PortraitGeometry
	Report   *biometrics.Report // full-quality assessment of the kept frame
	Template biometrics.Template
	Auto     bool   // fired by auto-capture
	Forced   bool   // accepted although it fails; Reason says why
	Reason   string // the clerk's reason for a forced capture
	Attempts int    // failed attempts before this capture
	Camera   string
	At       time.Time
	Width    int
	Height   int
}

// CaptureSession runs one camera for one enrollment: preview, tracking, live
// assessment and auto-capture. Methods are safe from any goroutine.
type CaptureSession struct {
	cfg    CaptureConfig
	ev     CaptureEvents
	pump   *capture.Pump
	ctx    context.Context
	cancel context.CancelFunc

	// analysis hand-off: the preview loop hands a clone over only when the analyser has
	// posted a ready token, so frames are never queued behind a slow assessment.
	work  chan gocv.Mat
	ready chan struct{}
	cmds  chan func(*analyser)
	done  chan struct{}

	mu    sync.Mutex
	state FaceState

	ring previewRing // the preview loop's
}

// StartCapture opens the camera and starts the session. Stop it when done.
func StartCapture(ctx context.Context, cfg CaptureConfig, ev CaptureEvents) (*CaptureSession, error) {
	if cfg.PreviewWidth <= 0 {
		cfg.PreviewWidth = 640
	}
	if cfg.ForceAfter <= 0 {
		cfg.ForceAfter = 3
	}
	if cfg.Selector.StableFrames <= 0 {
		cfg.Selector.StableFrames = biometrics.DefaultStableFrames
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.AnalysisFPS <= 0 {
		cfg.AnalysisFPS = DefaultAnalysisFPS(runtime.NumCPU())
	}
	if cfg.Live == nil || cfg.Final == nil || cfg.Open == nil {
		return nil, errors.New("workflow: capture needs a camera and assessors")
	}
	tracker, err := biometrics.NewTracker(cfg.Tracker)
	if err != nil {
		return nil, fmt.Errorf("workflow: face tracker: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &CaptureSession{cfg: cfg, ev: ev, ctx: ctx, cancel: cancel,
		work: make(chan gocv.Mat, 1), ready: make(chan struct{}, 1), cmds: make(chan func(*analyser)), done: make(chan struct{})}
	pump, err := capture.StartPump(ctx, cfg.Open, capture.PumpOptions{OnEvent: func(e capture.Event) {
		if ev.Camera != nil {
			ev.Camera(e)
		}
	}})
	if err != nil {
		cancel()
		tracker.Close()
		return nil, fmt.Errorf("workflow: opening the camera: %w", err)
	}
	s.pump = pump
	s.ready <- struct{}{}
	a := &analyser{s: s, sel: biometrics.NewSelector[gocv.Mat](cfg.Selector), attempts: cfg.Attempts}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.run() }()
	go func() { defer wg.Done(); s.previewLoop(tracker) }()
	go func() {
		wg.Wait()
		tracker.Close()
		close(s.done)
	}()
	return s, nil
}

// Stats are the camera pump's counters.
func (s *CaptureSession) Stats() capture.Stats { return s.pump.Stats() }

// Info describes the open camera.
func (s *CaptureSession) Info() capture.Info { return s.pump.Info() }

// Stop ends the session and waits for its goroutines.
func (s *CaptureSession) Stop() {
	s.cancel()
	s.pump.Stop()
	<-s.done
}

// Done is closed when the session has ended.
func (s *CaptureSession) Done() <-chan struct{} { return s.done }

// CaptureNow takes the best frame seen in this window (manual capture). A frame that
// fails counts as a failed attempt and is reported through Failed.
func (s *CaptureSession) CaptureNow() { s.command(func(a *analyser) { a.finish(false, "") }) }

// Force accepts the best frame in this window although it fails, with the clerk's
// reason. It is refused (Failed with ErrForceNotAllowed) before ForceAfter failed
// attempts or without a reason.
func (s *CaptureSession) Force(reason string) {
	s.command(func(a *analyser) { a.finish(true, reason) })
}

// Retake starts a new capture window (after a capture the clerk or citizen rejected);
// it counts as a failed attempt.
func (s *CaptureSession) Retake() {
	s.command(func(a *analyser) {
		a.attempts++
		a.reset()
		a.captured = false
	})
}

// command runs f on the analysis goroutine.
func (s *CaptureSession) command(f func(*analyser)) {
	select {
	case s.cmds <- f:
	case <-s.done:
		if s.ev.Failed != nil {
			s.ev.Failed(Attempt{Err: ErrSessionEnded})
		}
	}
}

func (s *CaptureSession) faceState() FaceState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

func (s *CaptureSession) setFaceState(f FaceState) {
	s.mu.Lock()
	s.state = f
	s.mu.Unlock()
}

// Box colours: grey no face, amber adjusting, green passing, red several faces.
var stateColours = map[FaceState]color.RGBA{
	FaceNone:    {R: 200, G: 200, B: 200, A: 255},
	FaceAdjust:  {R: 255, G: 170, B: 0, A: 255},
	FacePassing: {R: 0, G: 200, B: 80, A: 255},
	FaceMany:    {R: 230, G: 40, B: 40, A: 255},
}

// previewLoop takes every frame: tracks faces, draws boxes on a downscaled copy,
// publishes it, and hands a clone to the analyser when it is idle.
func (s *CaptureSession) previewLoop(tr *biometrics.Tracker) {
	defer close(s.work)
	var pv capture.Previewer
	defer pv.Close()
	for {
		f, err := s.pump.Next(s.ctx)
		if err != nil {
			if s.ev.Ended != nil {
				if s.ctx.Err() != nil || errors.Is(err, capture.ErrClosed) {
					err = nil
				}
				s.ev.Ended(err)
			}
			return
		}
		faces, _ := tr.Track(f.Mat)
		// Hand the analyser a copy if it is idle (never queue: it would drop behind).
		select {
		case <-s.ready:
			s.work <- f.Mat.Clone()
		default:
		}
		if s.ev.Preview != nil {
			s.publishPreview(&pv, f, faces)
		}
		f.Close()
	}
}

// publishPreview downscales the frame with the one preview downscale (capture's),
// draws the face boxes and publishes it in a buffer of the ring that no receiver holds
// (see Preview.Release); the Mats are reused.
func (s *CaptureSession) publishPreview(pv *capture.Previewer, f *capture.Frame, faces []biometrics.TrackedFace) {
	small, err := pv.Scale(f.Mat, s.cfg.PreviewWidth, max(1, f.Mat.Rows()))
	if err != nil {
		return // not an 8-bit BGR frame: nothing to show; the analyser reports the frame
	}
	k := float64(small.Cols()) / float64(max(1, f.Mat.Cols()))
	st := s.faceState()
	if len(faces) > 1 {
		st = FaceMany
	}
	for _, fc := range faces {
		r := image.Rect(int(float64(fc.Rect.Min.X)*k), int(float64(fc.Rect.Min.Y)*k), int(float64(fc.Rect.Max.X)*k), int(float64(fc.Rect.Max.Y)*k))
		gocv.Rectangle(small, r, stateColours[st], 3) // gocv orders the channels for BGR
	}
	b := s.ring.take()
	img, err := pv.RGBA(b.img)
	if err != nil {
		select {
		case b.free <- b: // unused: back in the ring
		default:
		}
		return
	}
	b.img = img // a new image when the size changed
	b.out.Store(true)
	s.ev.Preview(Preview{Image: img, Seq: f.Seq, Faces: len(faces), State: st, Time: f.Time, buf: b})
}

// analyser owns the Selector and the frames it holds; it runs on one goroutine.
type analyser struct {
	s        *CaptureSession
	sel      *biometrics.Selector[gocv.Mat]
	attempts int
	captured bool // a capture was delivered; wait for Retake before auto-capturing again
	last     *biometrics.Report
	streak   int // the selector's still, passing streak after the last analysis
	// bestFailed is the highest-scoring capture that failed the checks: what Force
	// accepts when the new window has no frame yet (the clerk forces right after a failure).
	bestFailed *Capture
}

func (a *analyser) run() {
	defer a.reset()
	for {
		select {
		case m, ok := <-a.s.work:
			if !ok {
				a.drainCmds()
				return
			}
			start := time.Now()
			a.assess(m)
			a.pace(time.Since(start))
			a.s.ready <- struct{}{}
		case f := <-a.s.cmds:
			f(a)
		}
	}
}

// pace rests after an analysis that took d: until the budget's interval has passed, and
// at least d, answering commands meanwhile. While a still, passing streak counts down
// (at most StableFrames analyses, well under a second) the budget doubles, so a subject
// in place is captured sooner; the rest of the time the preview keeps the cores.
func (a *analyser) pace(d time.Duration) {
	fps := a.s.cfg.AnalysisFPS
	if a.streak > 0 && !a.captured {
		fps *= 2
	}
	gap := max(d, time.Duration(float64(time.Second)/fps)-d)
	t := time.NewTimer(gap)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			return
		case <-a.s.ctx.Done():
			return
		case f := <-a.s.cmds:
			f(a)
		}
	}
}

// drainCmds answers commands sent while the preview loop was finishing.
func (a *analyser) drainCmds() {
	for {
		select {
		case f := <-a.s.cmds:
			f(a)
		default:
			return
		}
	}
}

func (a *analyser) reset() {
	for _, m := range a.sel.Reset() {
		m.Close()
	}
}

func (a *analyser) canForce() bool { return a.attempts >= a.s.cfg.ForceAfter }

func (a *analyser) assess(m gocv.Mat) {
	rep, err := a.s.cfg.Live.Assess(m)
	if err != nil || rep == nil || rep.Face == nil {
		if rep != nil && len(rep.Faces) > 1 {
			a.s.setFaceState(FaceMany)
		} else {
			a.s.setFaceState(FaceNone)
		}
		g := biometrics.Guidance{Key: biometrics.GuideNoFace, Text: biometrics.GuidanceText[biometrics.GuideNoFace]}
		if rep != nil {
			g = rep.Guidance
		}
		var offer *biometrics.Report
		if rep != nil && rep.Face != nil {
			offer = rep
		}
		d, free := a.sel.Offer(offer, m)
		closeAll(free)
		a.streak = d.Streak
		a.publish(rep, g, d)
		return
	}
	switch {
	case len(rep.Faces) > 1:
		a.s.setFaceState(FaceMany)
	case rep.Pass:
		a.s.setFaceState(FacePassing)
	default:
		a.s.setFaceState(FaceAdjust)
	}
	a.last = rep
	d, free := a.sel.Offer(rep, m)
	closeAll(free)
	a.streak = d.Streak
	a.publish(rep, rep.Guidance, d)
	if d.Capture && !a.s.cfg.ManualOnly && !a.captured {
		a.deliver(true, false, "")
	}
}

func (a *analyser) publish(rep *biometrics.Report, g biometrics.Guidance, d biometrics.Decision) {
	if a.s.ev.Assessed == nil {
		return
	}
	cd := 0
	if d.Streak > 0 && !a.captured {
		cd = max(0, a.s.cfg.Selector.StableFrames-d.Streak)
	}
	a.s.ev.Assessed(Live{Report: rep, Guidance: g, Streak: d.Streak, Countdown: cd, Attempts: a.attempts, CanForce: a.canForce()})
}

// finish handles a manual or forced capture.
func (a *analyser) finish(force bool, reason string) {
	if force && (reason == "" || !a.canForce()) {
		a.fail(nil, ErrForceNotAllowed, false)
		return
	}
	a.deliver(false, force, reason)
}

// deliver judges the window's best frame at full quality and hands out the capture.
func (a *analyser) deliver(auto, force bool, reason string) {
	rep, m, ok := a.sel.Best()
	if (!ok || rep == nil) && force && a.bestFailed != nil {
		c := a.bestFailed
		c.Forced, c.Reason, c.Attempts, c.Auto = true, reason, a.attempts, false
		a.captured, a.bestFailed = true, nil
		a.reset()
		if a.s.ev.Captured != nil {
			a.s.ev.Captured(c)
		}
		return
	}
	if !ok || rep == nil {
		a.fail(nil, ErrNothingToCapture, false) // nothing was tried: not an attempt
		return
	}
	c, err := a.s.finalize(m, force, reason, a.attempts)
	if err != nil {
		a.fail(nil, err, !force)
		return
	}
	c.Auto = auto
	if !c.Report.Pass && !force {
		if a.bestFailed == nil || c.Report.Score > a.bestFailed.Report.Score {
			a.bestFailed = c
		}
		a.fail(c.Report, nil, true)
		return
	}
	a.captured, a.bestFailed = true, nil
	a.reset()
	if a.s.ev.Captured != nil {
		a.s.ev.Captured(c)
	}
}

// fail reports a failed attempt (counted when count is set) and starts a new window.
func (a *analyser) fail(rep *biometrics.Report, err error, count bool) {
	if count {
		a.attempts++
		a.reset()
	}
	if a.s.ev.Failed != nil {
		a.s.ev.Failed(Attempt{Report: rep, Err: err, Attempts: a.attempts, CanForce: a.canForce()})
	}
}

// finalize assesses the kept frame at full quality, crops the portrait and encodes both.
func (s *CaptureSession) finalize(m gocv.Mat, force bool, reason string, attempts int) (*Capture, error) {
	return Finalize(m, s.cfg.Final, s.cfg.Portrait, FinalizeInfo{Forced: force, Reason: reason, Attempts: attempts, Camera: s.cfg.Camera, At: s.cfg.Now()})
}

// FinalizeInfo is what Finalize records besides the image.
type FinalizeInfo struct {
	Forced   bool
	Reason   string
	Attempts int
	Camera   string
	At       time.Time
}

// ErrNoTemplate means the kept image has no usable face for a template.
var ErrNoTemplate = errors.New("workflow: no face template could be made from this image")

// Finalize turns a kept image into a Capture: full-quality assessment, ICAO portrait
// crop, template. Used by the capture session and by the scripted enroll command.
func Finalize(m gocv.Mat, final Assessor, pc biometrics.PortraitConfig, info FinalizeInfo) (*Capture, error) {
	rep, err := final.Assess(m)
	if err != nil {
		return nil, fmt.Errorf("workflow: assessing the captured frame: %w", err)
	}
	if rep.Face == nil || rep.Template == nil {
		return nil, ErrNoTemplate
	}
	portrait, geo, err := biometrics.CropPortrait(m, *rep.Face, pc)
	if err != nil {
		return nil, fmt.Errorf("workflow: cropping the portrait: %w", err)
	}
	defer portrait.Close()
	pj, err := biometrics.EncodeJPEG(portrait, 92)
	if err != nil {
		return nil, fmt.Errorf("workflow: encoding the portrait: %w", err)
	}
	fj, err := FrameJPEG(m)
	if err != nil {
		return nil, fmt.Errorf("workflow: encoding the frame: %w", err)
	}
	return &Capture{
		Frame: fj, Portrait: pj, Geometry: geo, Report: rep, Template: *rep.Template,
		Forced: info.Forced && !rep.Pass, Reason: reasonIf(info.Forced && !rep.Pass, info.Reason),
		Attempts: info.Attempts, Camera: info.Camera, At: info.At, Width: m.Cols(), Height: m.Rows(),
	}, nil
}

// Limits of the captured frame kept with an enrollment for the supervisor's review: a
// downscaled JPEG keeps the store small while the face stays recognisable.
const (
	FrameMaxSide = 1280
	FrameQuality = 85
)

// FrameJPEG encodes a captured frame for keeping: its long side scaled down to at most
// FrameMaxSide pixels, JPEG quality FrameQuality.
func FrameJPEG(m gocv.Mat) ([]byte, error) {
	w, h := m.Cols(), m.Rows()
	if long := max(w, h); long > FrameMaxSide {
		f := float64(FrameMaxSide) / float64(long)
		size := image.Pt(max(1, int(float64(w)*f+0.5)), max(1, int(float64(h)*f+0.5)))
		small := gocv.NewMat()
		defer small.Close()
		gocv.Resize(m, &small, size, 0, 0, gocv.InterpolationArea)
		return biometrics.EncodeJPEG(small, FrameQuality)
	}
	return biometrics.EncodeJPEG(m, FrameQuality)
}

func reasonIf(ok bool, s string) string {
	if ok {
		return s
	}
	return ""
}

func closeAll(ms []gocv.Mat) {
	for _, m := range ms {
		m.Close()
	}
}
