package capture

import (
	"context"
	"errors"
	"image"
	"sync"

	"gocv.io/x/gocv"
)

// ErrCalibrating is returned by Bench.Calibrate while a calibration is still running.
var ErrCalibrating = errors.New("capture: a calibration test is already running")

// DefaultCalibrationFrames is how many measured frames a calibration takes the median of.
const DefaultCalibrationFrames = 8

// BenchOptions tune a Bench. The zero value is usable.
type BenchOptions struct {
	PreviewWidth      int // preview frames fit this width (default 640)
	MeasureEvery      int // every n-th frame is measured (default 5)
	TraceLength       int // sharpness values kept for the trace (default 120)
	CalibrationFrames int // measured frames a calibration takes the median of (DefaultCalibrationFrames)
	MaxRetries        int // reopen attempts after a disconnect (default 3)
}

func (o *BenchOptions) defaults() {
	if o.PreviewWidth <= 0 {
		o.PreviewWidth = 640
	}
	if o.MeasureEvery <= 0 {
		o.MeasureEvery = 5
	}
	if o.TraceLength <= 0 {
		o.TraceLength = 120
	}
	if o.CalibrationFrames <= 0 {
		o.CalibrationFrames = DefaultCalibrationFrames
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 3
	}
}

// BenchSample is one measured frame of the bench.
type BenchSample struct {
	Histogram []float64 // 256-bin luminance histogram of the preview frame
	Measures  Measures  // of the full frame
	Trace     []float64 // recent SharpnessNorm values, oldest first (a copy)
	Stats     Stats
}

// BenchEvents are what a Bench publishes. They may be called from the bench's
// goroutines (not the caller's), must return quickly and must not call the bench's
// blocking methods (Stop); a GUI hands them to its UI thread. Nil fields are no-ops.
type BenchEvents struct {
	// Camera reports the camera's state (streaming, disconnected, reconnected...).
	Camera func(Event)
	// Preview is every frame, downscaled. The image belongs to the receiver.
	Preview func(*image.RGBA)
	// Sampled is every MeasureEvery-th frame's measures, histogram and trace.
	Sampled func(BenchSample)
	// Calibrated is the verdict of a calibration started with Calibrate.
	Calibrated func(Verdict)
}

func (e *BenchEvents) defaults() {
	if e.Camera == nil {
		e.Camera = func(Event) {}
	}
	if e.Preview == nil {
		e.Preview = func(*image.RGBA) {}
	}
	if e.Sampled == nil {
		e.Sampled = func(BenchSample) {}
	}
	if e.Calibrated == nil {
		e.Calibrated = func(Verdict) {}
	}
}

// Bench is the technician's camera bench: one camera opened with a profile, a live
// preview, the luminance histogram and a sharpness trace, and the calibration test
// (median measures of a few frames against the profile's thresholds). Methods are safe
// from any goroutine.
type Bench struct {
	opts   BenchOptions
	ev     BenchEvents
	pump   *Pump
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	trace []float64
	calib *calibration
}

type calibration struct {
	th Thresholds
	ms []Measures
}

// StartBench opens the camera of profile p and starts the preview loop. Stop it when
// done.
func StartBench(ctx context.Context, p CameraProfile, opts BenchOptions, ev BenchEvents) (*Bench, error) {
	if err := p.Validate(); err != nil {
		return nil, err
	}
	opts.defaults()
	ev.defaults()
	ctx, cancel := context.WithCancel(ctx)
	pump, err := StartPump(ctx, p.Opener(), PumpOptions{MaxRetries: opts.MaxRetries, OnEvent: ev.Camera})
	if err != nil {
		cancel()
		return nil, err
	}
	b := &Bench{opts: opts, ev: ev, pump: pump, cancel: cancel, done: make(chan struct{})}
	go b.loop(ctx)
	return b, nil
}

// Stats are the camera pump's counters.
func (b *Bench) Stats() Stats { return b.pump.Stats() }

// Done is closed when the preview loop has ended (after Stop, or when the camera is gone).
func (b *Bench) Done() <-chan struct{} { return b.done }

// Stop stops the camera and waits for the preview loop to end.
func (b *Bench) Stop() {
	b.cancel()
	b.pump.Stop()
	<-b.done
}

// Apply sends p's controls (exposure, gain, white balance, focus) to the running camera
// and returns what it reports it applied; resolution and rate need a new bench.
func (b *Bench) Apply(ctx context.Context, p CameraProfile) (Controls, error) {
	return ApplyProfile(ctx, b.pump, p)
}

// Calibrate measures the next CalibrationFrames sampled frames and publishes the
// verdict of their median measures against th through Calibrated.
func (b *Bench) Calibrate(th Thresholds) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.calib != nil {
		return ErrCalibrating
	}
	b.calib = &calibration{th: th}
	return nil
}

// loop takes frames, publishes the preview and, every few frames, the measures.
func (b *Bench) loop(ctx context.Context) {
	defer close(b.done)
	var pv Previewer
	defer pv.Close()
	n := 0
	for {
		f, err := b.pump.Next(ctx)
		if err != nil {
			return
		}
		n++
		// Width-bound: the height limit is the frame's own (never enlarged).
		small, perr := pv.Scale(f.Mat, b.opts.PreviewWidth, max(1, f.Mat.Rows()))
		var sample *BenchSample
		if perr == nil && (b.opts.MeasureEvery == 1 || n%b.opts.MeasureEvery == 1) {
			sample = b.sample(f, *small)
		}
		f.Close()
		if perr == nil {
			// The receiver keeps the image, so it gets its own.
			if img, err := pv.RGBA(nil); err == nil {
				b.ev.Preview(img)
			}
		}
		if sample != nil {
			b.ev.Sampled(*sample)
			b.feedCalibration(sample.Measures)
		}
	}
}

// sample measures the frame (histogram from the already downscaled preview).
func (b *Bench) sample(f *Frame, small gocv.Mat) *BenchSample {
	hist, herr := LumaHistogram(small)
	m, merr := Measure(f.Mat)
	if herr != nil || merr != nil {
		return nil
	}
	b.mu.Lock()
	b.trace = append(b.trace, m.SharpnessNorm)
	if len(b.trace) > b.opts.TraceLength {
		b.trace = b.trace[len(b.trace)-b.opts.TraceLength:]
	}
	trace := append([]float64(nil), b.trace...)
	b.mu.Unlock()
	return &BenchSample{Histogram: hist, Measures: m, Trace: trace, Stats: b.pump.Stats()}
}

func (b *Bench) feedCalibration(m Measures) {
	b.mu.Lock()
	c := b.calib
	if c == nil {
		b.mu.Unlock()
		return
	}
	c.ms = append(c.ms, m)
	if len(c.ms) < b.opts.CalibrationFrames {
		b.mu.Unlock()
		return
	}
	b.calib = nil
	b.mu.Unlock()
	b.ev.Calibrated(c.th.Evaluate(MedianMeasures(c.ms)))
}
