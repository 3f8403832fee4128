package capture

import (
	"context"
	"fmt"
	"io"
	"math"
	"strings"
	"time"

	"gocv.io/x/gocv"
)

// vcSource reads a device, a file or a GStreamer pipeline through gocv.VideoCapture.
type vcSource struct {
	vc     *gocv.VideoCapture
	info   Info
	spec   Spec
	loop   bool
	pace   *pacer // nil when unpaced
	closed bool
}

// openResult carries the outcome of a blocking gocv open out of its goroutine.
type openResult struct {
	vc  *gocv.VideoCapture
	err error
}

// openWithTimeout runs open in its own goroutine because gocv/OpenCV can block for a
// long time on a bad device or pipeline. When the deadline passes first, the goroutine
// keeps ownership and closes the capture itself whenever open finally returns.
func openWithTimeout(ctx context.Context, timeout time.Duration, what string, open func() (*gocv.VideoCapture, error)) (*gocv.VideoCapture, error) {
	ch := make(chan openResult, 1)
	abandoned := make(chan struct{})
	go func() {
		vc, err := open()
		select {
		case ch <- openResult{vc, err}:
		case <-abandoned:
			if vc != nil {
				vc.Close()
			}
		}
	}()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case r := <-ch:
		return r.vc, r.err
	case <-timer.C:
		close(abandoned)
		return nil, fmt.Errorf("%w: %s did not open within %v", ErrOpenTimeout, what, timeout)
	case <-ctx.Done():
		close(abandoned)
		return nil, fmt.Errorf("capture: open %s: %w", what, ctx.Err())
	}
}

func openVideoCapture(ctx context.Context, s Spec, opts Options) (Source, error) {
	what := s.Path
	open := func() (*gocv.VideoCapture, error) {
		var vc *gocv.VideoCapture
		var err error
		switch {
		case s.Kind == KindDevice && s.Device >= 0:
			vc, err = gocv.VideoCaptureDeviceWithAPI(s.Device, gocv.VideoCaptureV4L2)
		case s.Kind == KindDevice:
			vc, err = gocv.VideoCaptureFileWithAPI(s.Path, gocv.VideoCaptureV4L2)
		case s.Kind == KindGStreamer:
			vc, err = gocv.VideoCaptureFileWithAPI(s.Path, gocv.VideoCaptureGstreamer)
		default:
			vc, err = gocv.VideoCaptureFile(s.Path)
		}
		if err == nil && !vc.IsOpened() {
			err = fmt.Errorf("not opened")
		}
		if err != nil {
			if vc != nil {
				vc.Close()
			}
			return nil, fmt.Errorf("%w: %s %s (OpenCV: %v)", ErrOpen, s.Kind, what, err)
		}
		if s.Kind == KindDevice {
			configureDevice(vc, opts)
		}
		return vc, nil
	}
	vc, err := openWithTimeout(ctx, opts.openTimeout(), string(s.Kind)+" "+what, open)
	if err != nil {
		return nil, err
	}
	src := &vcSource{vc: vc, spec: s, loop: opts.Loop}
	src.info = Info{
		Spec:    s.Original,
		Kind:    s.Kind,
		Width:   int(vc.Get(gocv.VideoCaptureFrameWidth)),
		Height:  int(vc.Get(gocv.VideoCaptureFrameHeight)),
		FPS:     vc.Get(gocv.VideoCaptureFPS),
		FourCC:  cleanFourCC(vc.Get(gocv.VideoCaptureFOURCC)),
		Backend: backendName(vc.Get(gocv.VideoCaptureBackend)),
		Paced:   s.Kind != KindFile || !opts.Fast,
	}
	if s.Kind == KindFile && !opts.Fast {
		fps := src.info.FPS
		if !(fps > 0 && fps <= 1000) {
			fps = 30 // container without a usable rate: pace like a common webcam
		}
		src.pace = newPacer(fps)
	}
	if s.Kind == KindDevice && opts.Controls != nil {
		if _, err := applyControls(vc, *opts.Controls); err != nil {
			vc.Close()
			return nil, fmt.Errorf("capture: open %s: applying controls: %w", what, err)
		}
	}
	return src, nil
}

// configureDevice asks for the pixel format, size and rate before the first read;
// V4L2 needs the FOURCC set before the size for MJPG to take.
func configureDevice(vc *gocv.VideoCapture, opts Options) {
	if opts.Width*opts.Height >= 1280*720 {
		vc.Set(gocv.VideoCaptureFOURCC, vc.ToCodec("MJPG"))
	}
	if opts.Width > 0 && opts.Height > 0 {
		vc.Set(gocv.VideoCaptureFrameWidth, float64(opts.Width))
		vc.Set(gocv.VideoCaptureFrameHeight, float64(opts.Height))
	}
	if opts.FPS > 0 {
		vc.Set(gocv.VideoCaptureFPS, opts.FPS)
	}
	// The driver's buffer count stays at OpenCV's default (4): with a single buffer UVC
	// cameras lose every other frame while it is dequeued, and the pump reads
	// continuously, so the queue stays empty and adds no latency.
}

// cleanFourCC renders a FOURCC property, or "" when the backend does not report one
// (GStreamer gives -1).
func cleanFourCC(v float64) string {
	if v <= 0 || v > math.MaxUint32 {
		return ""
	}
	u := uint32(v)
	b := []byte{byte(u), byte(u >> 8), byte(u >> 16), byte(u >> 24)}
	for _, c := range b {
		if c < ' ' || c > '~' {
			return ""
		}
	}
	return strings.TrimRight(string(b), " ")
}

func backendName(v float64) string {
	switch gocv.VideoCaptureAPI(int(v)) {
	case gocv.VideoCaptureV4L2:
		return "V4L2"
	case gocv.VideoCaptureGstreamer:
		return "GSTREAMER"
	case gocv.VideoCaptureFFmpeg:
		return "FFMPEG"
	case gocv.VideoCaptureOpencvMjpeg:
		return "CV_MJPEG"
	case gocv.VideoCaptureImages:
		return "CV_IMAGES"
	}
	return fmt.Sprintf("api %d", int(v))
}

func (s *vcSource) Info() Info { return s.info }

func (s *vcSource) Read(ctx context.Context, dst *gocv.Mat) error {
	if s.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.spec.Kind == KindDevice {
		return s.readDevice(ctx, dst)
	}
	if !s.vc.Read(dst) || dst.Empty() {
		if !s.loop {
			return io.EOF
		}
		// Loop: rewind once; a file that cannot be re-read is broken, not finished.
		s.vc.Set(gocv.VideoCapturePosFrames, 0)
		if !s.vc.Read(dst) || dst.Empty() {
			return fmt.Errorf("%w: %s: rewinding to loop", ErrReadFailed, s.spec.Path)
		}
	}
	if s.pace != nil {
		return s.pace.wait(ctx)
	}
	return nil
}

// deviceFastFail: a failed device read that returned sooner than this did not wait for
// a frame (an interrupted wait, or a device that is gone).
const deviceFastFail = 250 * time.Millisecond

// readDevice reads a camera frame. OpenCV's V4L2 backend waits for a frame in
// select(), which a signal interrupts and which is never restarted: Go's own preemption
// signal (SIGURG) can land on the reading thread, and one such read must not look like
// an unplugged camera. Fast failures are retried for a few frame intervals (at least
// 250 ms); a camera that is really gone keeps failing and is reported after that
// window, and a stalled one, whose failed read already waited for OpenCV's select
// timeout, is reported at once.
func (s *vcSource) readDevice(ctx context.Context, dst *gocv.Mat) error {
	window := deviceFastFail
	if fps := s.info.FPS; fps > 0 && time.Duration(3*float64(time.Second)/fps) > window {
		window = time.Duration(3 * float64(time.Second) / fps)
	}
	deadline := time.Now().Add(window)
	for {
		start := time.Now()
		if s.vc.Read(dst) && !dst.Empty() {
			return nil
		}
		if time.Since(start) >= deviceFastFail || time.Now().After(deadline) {
			return fmt.Errorf("%w: %s", ErrReadFailed, s.spec.Path)
		}
		// Not a hot loop when the device fails at once (ENODEV after an unplug).
		if err := sleepCtx(ctx, 2*time.Millisecond); err != nil {
			return err
		}
	}
}

func (s *vcSource) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.vc.Close()
}

// pacer releases frames at a fixed rate, like a camera's sensor clock.
type pacer struct {
	interval time.Duration
	next     time.Time                                        // when the next frame is due
	last     time.Time                                        // when the previous frame was released
	now      func() time.Time                                 // time.Now; fake in tests
	sleep    func(ctx context.Context, d time.Duration) error // sleepCtx; fake in tests
}

func newPacer(fps float64) *pacer {
	return &pacer{interval: time.Duration(float64(time.Second) / fps), now: time.Now, sleep: sleepCtx}
}

// wait blocks until the next frame is due. The first frame is due at once. Like a
// sensor clock the schedule keeps time through a short stall (a slow decode, a busy
// CPU): frames that fell due meanwhile follow at half the interval, not all at once,
// so a consumer that was held up by the same stall still gets each of them. A caller
// more than four intervals behind restarts the schedule, as a camera whose buffers
// overflowed would have lost those frames.
func (p *pacer) wait(ctx context.Context) error {
	now := p.now()
	if p.next.IsZero() || now.Sub(p.next) > 4*p.interval {
		p.next = now
	}
	due := p.next
	if gap := p.last.Add(p.interval / 2); !p.last.IsZero() && due.Before(gap) {
		due = gap
	}
	p.next = p.next.Add(p.interval)
	if d := due.Sub(now); d > 0 {
		if err := p.sleep(ctx, d); err != nil {
			return err
		}
	}
	p.last = p.now()
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
