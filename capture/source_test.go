package capture

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// sourceCase is one source for the shared suite. finite sources end with io.EOF after
// frames frames; infinite ones are read for frames frames.
type sourceCase struct {
	name   string
	spec   string
	opts   Options
	kind   Kind
	w, h   int
	frames int
	finite bool
}

func sourceCases(t *testing.T) []sourceCase {
	video := makeVideo(t, "bona.jpg", 320, 240, 25, 12)
	return []sourceCase{
		{name: "file", spec: video, opts: Options{Fast: true}, kind: KindFile, w: 320, h: 240, frames: 12, finite: true},
		{name: "file-prefix-paced", spec: "file:" + video, kind: KindFile, w: 320, h: 240, frames: 12, finite: true},
		{name: "gst", spec: "gst:filesrc location=" + video + " ! avidemux ! jpegdec ! videoconvert ! video/x-raw,format=BGR ! appsink sync=false",
			kind: KindGStreamer, w: 320, h: 240, frames: 12, finite: true},
		{name: "gst-testsrc", spec: "gst:videotestsrc num-buffers=10 pattern=ball ! video/x-raw,width=160,height=120,framerate=30/1",
			kind: KindGStreamer, w: 160, h: 120, frames: 10, finite: true},
		{name: "synthetic", spec: "synthetic:320x240@200", kind: KindSynthetic, w: 320, h: 240, frames: 12},
		{name: "synthetic-fast", spec: "synthetic:64x48", opts: Options{Fast: true}, kind: KindSynthetic, w: 64, h: 48, frames: 12},
	}
}

// TestSourceSuite runs the same contract against every source kind that exists here
// (the V4L2 device source too, in the device tests: v4l2_devices_test.go).
func TestSourceSuite(t *testing.T) {
	for _, tc := range sourceCases(t) {
		checkSource(t, tc)
	}
}

// checkSource runs the shared source contract on one source as a subtest.
func checkSource(t *testing.T, tc sourceCase) {
	t.Helper()
	t.Run(tc.name, func(t *testing.T) {
		ctx := context.Background()
		src, err := Open(ctx, tc.spec, tc.opts)
		if err != nil {
			t.Fatalf("Open(%q): %v", tc.spec, err)
		}
		defer src.Close()
		info := src.Info()
		if info.Kind != tc.kind || info.Width != tc.w || info.Height != tc.h {
			t.Errorf("Info = %+v, want kind %s %dx%d", info, tc.kind, tc.w, tc.h)
		}
		if info.Spec != tc.spec {
			t.Errorf("Info.Spec = %q, want %q", info.Spec, tc.spec)
		}
		if cs, ok := src.(Controllable); ok && tc.kind != KindDevice {
			if _, err := cs.SetControls(Controls{Gain: ptr(1.0)}); !errors.Is(err, ErrUnsupported) {
				t.Errorf("SetControls on a %s source = %v, want ErrUnsupported", tc.kind, err)
			}
			if _, err := cs.Controls(); !errors.Is(err, ErrUnsupported) {
				t.Errorf("Controls on a %s source = %v, want ErrUnsupported", tc.kind, err)
			}
		}
		m := gocv.NewMat()
		defer m.Close()
		prev := gocv.NewMat()
		defer prev.Close()
		changed := 0
		for i := 0; i < tc.frames; i++ {
			if err := src.Read(ctx, &m); err != nil {
				t.Fatalf("Read %d: %v", i, err)
			}
			if m.Cols() != tc.w || m.Rows() != tc.h || m.Type() != gocv.MatTypeCV8UC3 {
				t.Fatalf("frame %d: %dx%d type %v, want %dx%d CV8UC3", i, m.Cols(), m.Rows(), m.Type(), tc.w, tc.h)
			}
			if i > 0 && gocv.NormWithMats(m, prev, gocv.NormL1) > 0 {
				changed++
			}
			m.CopyTo(&prev)
		}
		if changed < tc.frames/2 {
			t.Errorf("only %d of %d consecutive frames differ; the stream looks frozen", changed, tc.frames-1)
		}
		if tc.finite {
			if err := src.Read(ctx, &m); !errors.Is(err, io.EOF) {
				t.Errorf("Read past the end = %v, want io.EOF", err)
			}
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if err := src.Read(cctx, &m); !errors.Is(err, context.Canceled) && !(tc.finite && errors.Is(err, io.EOF)) {
			t.Errorf("Read with cancelled context = %v, want context.Canceled", err)
		}
		if err := src.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := src.Close(); err != nil {
			t.Errorf("second Close: %v", err)
		}
		if err := src.Read(ctx, &m); !errors.Is(err, ErrClosed) {
			t.Errorf("Read after Close = %v, want ErrClosed", err)
		}
	})
}

func TestFileLoop(t *testing.T) {
	video := makeVideo(t, "joy.jpg", 160, 120, 25, 5)
	src, err := Open(context.Background(), video, Options{Fast: true, Loop: true})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	m := gocv.NewMat()
	defer m.Close()
	for i := 0; i < 12; i++ {
		if err := src.Read(context.Background(), &m); err != nil {
			t.Fatalf("Read %d of a looping 5-frame file: %v", i, err)
		}
	}
}

func TestSyntheticDeterministic(t *testing.T) {
	read := func() []gocv.Mat {
		src, err := Open(context.Background(), "synthetic:96x64", Options{Fast: true})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var out []gocv.Mat
		for i := 0; i < 3; i++ {
			m := gocv.NewMat()
			if err := src.Read(context.Background(), &m); err != nil {
				t.Fatal(err)
			}
			out = append(out, m)
		}
		return out
	}
	a, b := read(), read()
	for i := range a {
		if d := gocv.NormWithMats(a[i], b[i], gocv.NormL1); d != 0 {
			t.Errorf("frame %d differs between runs by %v", i, d)
		}
		a[i].Close()
		b[i].Close()
	}
}

func TestOpenErrors(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		spec string
		want error
	}{
		{"", ErrBadSpec},
		{"synthetic:10x10", ErrBadSpec},
		{"synthetic:640x480@0", ErrBadSpec},
		{"gst:", ErrBadSpec},
		{"file:", ErrBadSpec},
		{"999", ErrBadSpec},
		{"/dev/video97", ErrNoDevice},
		{"97", ErrNoDevice},
		{"/dev/null", ErrOpen}, // exists but is no camera: goes through gocv's V4L2 open
		{"gst:nosuchgstelement ! appsink", ErrOpen},
		{"/nonexistent/movie.avi", nil},
	} {
		t.Run(tc.spec, func(t *testing.T) {
			start := time.Now()
			src, err := Open(ctx, tc.spec, Options{OpenTimeout: 2 * time.Second})
			if err == nil {
				src.Close()
				t.Fatalf("Open(%q) succeeded", tc.spec)
			}
			if tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("Open(%q) = %v, want %v", tc.spec, err, tc.want)
			}
			t.Logf("Open(%q) = %v after %v", tc.spec, err, time.Since(start).Round(time.Millisecond))
		})
	}
}

// TestOpenTimeout: an open that blocks is abandoned at the deadline, and the capture
// it eventually returns is closed by the opening goroutine.
func TestOpenTimeout(t *testing.T) {
	release := make(chan struct{})
	opened := make(chan *gocv.VideoCapture, 1)
	_, err := openWithTimeout(context.Background(), 20*time.Millisecond, "stuck camera", func() (*gocv.VideoCapture, error) {
		<-release
		opened <- nil
		return nil, errors.New("late")
	})
	if !errors.Is(err, ErrOpenTimeout) {
		t.Fatalf("err = %v, want ErrOpenTimeout", err)
	}
	close(release)
	<-opened

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	block := make(chan struct{})
	defer close(block)
	_, err = openWithTimeout(ctx, time.Hour, "stuck camera", func() (*gocv.VideoCapture, error) {
		<-block
		return nil, errors.New("never")
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err with cancelled ctx = %v, want context.Canceled", err)
	}
}

func TestParseSpec(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want Spec
	}{
		{"0", Spec{Kind: KindDevice, Device: 0, Path: "/dev/video0"}},
		{"/dev/video2", Spec{Kind: KindDevice, Device: 2, Path: "/dev/video2"}},
		{"/dev/v4l/by-id/usb-cam", Spec{Kind: KindDevice, Device: -1, Path: "/dev/v4l/by-id/usb-cam"}},
		{"demo.mp4", Spec{Kind: KindFile, Device: -1, Path: "demo.mp4"}},
		{"file:/tmp/x:y.avi", Spec{Kind: KindFile, Device: -1, Path: "/tmp/x:y.avi"}},
		{"gst:videotestsrc", Spec{Kind: KindGStreamer, Device: -1, Path: "videotestsrc ! videoconvert ! appsink"}},
		{"gst:videotestsrc ! appsink", Spec{Kind: KindGStreamer, Device: -1, Path: "videotestsrc ! appsink"}},
		{"synthetic", Spec{Kind: KindSynthetic, Device: -1, Width: 640, Height: 480, FPS: 30}},
		{"synthetic:1280x720@15", Spec{Kind: KindSynthetic, Device: -1, Width: 1280, Height: 720, FPS: 15}},
		{"synthetic:@60", Spec{Kind: KindSynthetic, Device: -1, Width: 640, Height: 480, FPS: 60}},
	} {
		got, err := ParseSpec(tc.in)
		tc.want.Original = tc.in
		if err != nil || got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func FuzzParseSpec(f *testing.F) {
	for _, s := range []string{"0", "/dev/video0", "synthetic:1x1@1", "synthetic:640x480@30", "gst:a ! b", "file:x", "x.mp4", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		sp, err := ParseSpec(s)
		if err != nil {
			if !errors.Is(err, ErrBadSpec) {
				t.Fatalf("ParseSpec(%q) error %v is not ErrBadSpec", s, err)
			}
			return
		}
		switch sp.Kind {
		case KindSynthetic:
			if sp.Width < 16 || sp.Height < 16 || sp.Width > 8192 || sp.Height > 8192 || !(sp.FPS > 0 && sp.FPS <= 1000) {
				t.Fatalf("ParseSpec(%q) accepted %+v", s, sp)
			}
		case KindDevice, KindFile, KindGStreamer:
			if sp.Path == "" {
				t.Fatalf("ParseSpec(%q) gave an empty path", s)
			}
		default:
			t.Fatalf("ParseSpec(%q) kind %q", s, sp.Kind)
		}
	})
}

func TestCheckGStreamer(t *testing.T) {
	if err := CheckGStreamer(context.Background()); err != nil {
		t.Fatalf("OpenCV here is built with GStreamer (Debian 12 libopencv): %v", err)
	}
	if v := OpenCVVersion(); v == "" || v[0] != '4' {
		t.Errorf("OpenCVVersion() = %q", v)
	}
}

// TestPacer drives the pacer with a fake clock: it sleeps until each frame is due,
// catches up after a short stall at half-interval spacing, and restarts after a long one.
func TestPacer(t *testing.T) {
	now := time.Unix(1000, 0)
	var slept []time.Duration
	p := newPacer(10) // 100 ms
	p.now = func() time.Time { return now }
	p.sleep = func(_ context.Context, d time.Duration) error { slept = append(slept, d); now = now.Add(d); return nil }
	step := func(work time.Duration) time.Duration {
		slept = nil
		now = now.Add(work)
		if err := p.wait(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(slept) == 0 {
			return 0
		}
		return slept[0]
	}
	ms := time.Millisecond
	for i, tc := range []struct{ work, wantSleep time.Duration }{
		{0, 0},             // first frame at once (due 0, next due 100)
		{10 * ms, 90 * ms}, // due at 100
		{30 * ms, 70 * ms}, // due at 200
		{250 * ms, 0},      // stalled to 450: frame due 300 is late, released at once
		{0, 50 * ms},       // due 400: late too, but follows half an interval later (500)
		{0, 50 * ms},       // due 500: again half an interval after the last (550)
		{0, 50 * ms},       // due 600: back on the clock
		{900 * ms, 0},      // stall of 9 intervals: schedule restarts at 1500
		{20 * ms, 80 * ms}, // due 1600
	} {
		if got := step(tc.work); got != tc.wantSleep {
			t.Errorf("step %d (work %v): slept %v, want %v", i, tc.work, got, tc.wantSleep)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sleepCtx(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("sleepCtx with cancelled ctx = %v", err)
	}
}

func TestCleanFourCC(t *testing.T) {
	for _, tc := range []struct {
		v    float64
		want string
	}{
		{float64(pix("MJPG")), "MJPG"},
		{float64(pix("Y16 ")), "Y16"},
		{-1, ""},
		{0, ""},
		{1, ""},
		{1e12, ""},
	} {
		if got := cleanFourCC(tc.v); got != tc.want {
			t.Errorf("cleanFourCC(%v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
