package capture

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"gocv.io/x/gocv"
)

// Kind says what a source reads from.
type Kind string

// The source kinds.
const (
	KindDevice    Kind = "device"    // V4L2 camera through gocv
	KindFile      Kind = "file"      // video file through gocv (FFmpeg backend)
	KindGStreamer Kind = "gst"       // GStreamer pipeline through gocv
	KindSynthetic Kind = "synthetic" // deterministic moving pattern
)

// Errors callers can test with errors.Is.
var (
	// ErrBadSpec: the source spec cannot be parsed.
	ErrBadSpec = errors.New("capture: bad source spec")
	// ErrNoDevice: the camera device does not exist (not plugged in, wrong number).
	ErrNoDevice = errors.New("capture: no such camera")
	// ErrOpenTimeout: opening the source did not finish within Options.OpenTimeout.
	ErrOpenTimeout = errors.New("capture: opening the source timed out")
	// ErrOpen: the backend refused to open the source.
	ErrOpen = errors.New("capture: cannot open source")
	// ErrReadFailed: a frame could not be read (camera unplugged or stalled).
	ErrReadFailed = errors.New("capture: reading a frame failed")
	// ErrClosed: the source or pump is closed.
	ErrClosed = errors.New("capture: closed")
	// ErrUnsupported: the source does not support the operation (e.g. controls on a file).
	ErrUnsupported = errors.New("capture: not supported by this source")
)

// Source is one camera-like stream of frames. It is NOT safe for concurrent use: one
// goroutine (normally a [Pump]) owns it and calls Read and Close.
type Source interface {
	// Read reads the next frame into dst, which the caller owns; dst is reallocated as
	// needed and holds an 8-bit BGR image afterwards. Paced sources block until the
	// frame is due. Read returns io.EOF at the end of a finite stream (a file without
	// Options.Loop), an error wrapping ErrReadFailed when the camera stops delivering,
	// ctx.Err() when ctx is done while waiting, and ErrClosed after Close.
	Read(ctx context.Context, dst *gocv.Mat) error
	// Info describes the stream as opened (size and rate the backend actually gave).
	Info() Info
	// Close releases the source; later calls return nil.
	Close() error
}

// Info describes an open source.
type Info struct {
	Spec    string  `json:"spec"`
	Kind    Kind    `json:"kind"`
	Width   int     `json:"width"`
	Height  int     `json:"height"`
	FPS     float64 `json:"fps"`              // nominal frame rate (0 when unknown)
	FourCC  string  `json:"fourcc,omitempty"` // pixel format the backend negotiated, when known
	Backend string  `json:"backend,omitempty"`
	Paced   bool    `json:"paced"` // Read waits for frame time (cameras, paced files, synthetic)
}

// Options tune Open. The zero value is usable.
type Options struct {
	// Width, Height and FPS are requested from devices (0 = device default) and set the
	// synthetic pattern's size and rate. Devices get MJPG for 1280x720 and above, since
	// raw YUYV at that size exceeds USB 2 bandwidth at useful frame rates.
	Width, Height int
	FPS           float64
	// OpenTimeout bounds how long opening may take; gocv's open can block on a bad
	// device. Default 5s.
	OpenTimeout time.Duration
	// Fast turns pacing off for files and the synthetic source (tests, batch work).
	Fast bool
	// Loop restarts a video file at its end instead of returning io.EOF.
	Loop bool
	// Controls are applied right after a device opens (and on every reopen by a Pump).
	Controls *Controls
}

func (o Options) openTimeout() time.Duration {
	if o.OpenTimeout <= 0 {
		return 5 * time.Second
	}
	return o.OpenTimeout
}

// Spec is a parsed source spec.
type Spec struct {
	Kind     Kind
	Device   int    // device index, or -1 when Path names the device node
	Path     string // device node, file path, or GStreamer pipeline
	Width    int    // synthetic only
	Height   int    // synthetic only
	FPS      float64
	Original string
}

// ParseSpec parses a source spec:
//
//	/dev/video0, 0            V4L2 device by node or index
//	file.mp4, file:PATH       video file
//	gst:PIPELINE              GStreamer pipeline (" ! videoconvert ! appsink" is added when it has no appsink)
//	synthetic[:WxH[@FPS]]     moving test pattern (default 640x480@30)
func ParseSpec(spec string) (Spec, error) {
	s := Spec{Original: spec, Device: -1}
	switch {
	case strings.TrimSpace(spec) == "":
		return s, fmt.Errorf("%w: empty (want /dev/videoN, an index, a file, gst:PIPELINE or synthetic)", ErrBadSpec)
	case spec == "synthetic" || strings.HasPrefix(spec, "synthetic:"):
		s.Kind, s.Width, s.Height, s.FPS = KindSynthetic, 640, 480, 30
		rest := strings.TrimPrefix(strings.TrimPrefix(spec, "synthetic"), ":")
		if rest == "" {
			return s, nil
		}
		size, fps, hasFPS := strings.Cut(rest, "@")
		if size != "" {
			ws, hs, ok := strings.Cut(size, "x")
			w, err1 := strconv.Atoi(ws)
			h, err2 := strconv.Atoi(hs)
			if !ok || err1 != nil || err2 != nil || w < 16 || h < 16 || w > 8192 || h > 8192 {
				return s, fmt.Errorf("%w: %q: size must be WxH between 16 and 8192", ErrBadSpec, spec)
			}
			s.Width, s.Height = w, h
		}
		if hasFPS {
			f, err := strconv.ParseFloat(fps, 64)
			if err != nil || !(f > 0 && f <= 1000) {
				return s, fmt.Errorf("%w: %q: fps must be a number in (0, 1000]", ErrBadSpec, spec)
			}
			s.FPS = f
		}
		return s, nil
	case strings.HasPrefix(spec, "gst:"):
		p := strings.TrimSpace(strings.TrimPrefix(spec, "gst:"))
		if p == "" {
			return s, fmt.Errorf("%w: %q: empty GStreamer pipeline", ErrBadSpec, spec)
		}
		if !strings.Contains(p, "appsink") {
			p += " ! videoconvert ! appsink"
		}
		s.Kind, s.Path = KindGStreamer, p
		return s, nil
	case strings.HasPrefix(spec, "file:"):
		p := strings.TrimPrefix(spec, "file:")
		if p == "" {
			return s, fmt.Errorf("%w: %q: empty file name", ErrBadSpec, spec)
		}
		s.Kind, s.Path = KindFile, p
		return s, nil
	}
	if n, err := strconv.Atoi(spec); err == nil {
		if n < 0 || n > 255 {
			return s, fmt.Errorf("%w: %q: device index must be 0..255", ErrBadSpec, spec)
		}
		s.Kind, s.Device, s.Path = KindDevice, n, fmt.Sprintf("/dev/video%d", n)
		return s, nil
	}
	if strings.HasPrefix(spec, "/dev/") {
		s.Kind, s.Path = KindDevice, spec
		if n, err := strconv.Atoi(strings.TrimPrefix(spec, "/dev/video")); err == nil && n >= 0 && n <= 255 {
			s.Device = n
		}
		return s, nil
	}
	s.Kind, s.Path = KindFile, spec
	return s, nil
}

// Open opens the source named by spec (see [ParseSpec]). Opening a device or pipeline
// happens in a goroutine bounded by opts.OpenTimeout and ctx.
func Open(ctx context.Context, spec string, opts Options) (Source, error) {
	s, err := ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	return OpenSpec(ctx, s, opts)
}

// OpenSpec opens an already parsed spec.
func OpenSpec(ctx context.Context, s Spec, opts Options) (Source, error) {
	switch s.Kind {
	case KindSynthetic:
		if opts.Width > 0 && opts.Height > 0 {
			s.Width, s.Height = opts.Width, opts.Height
		}
		if opts.FPS > 0 {
			s.FPS = opts.FPS
		}
		return newSynthetic(s, opts), nil
	case KindFile:
		if _, err := os.Stat(s.Path); err != nil {
			return nil, fmt.Errorf("capture: open video file %s: %w", s.Path, err)
		}
		return openVideoCapture(ctx, s, opts)
	case KindDevice:
		if _, err := os.Stat(s.Path); err != nil {
			return nil, fmt.Errorf("%w: %s does not exist (is the camera plugged in? list cameras with 'enrollstation camera list')", ErrNoDevice, s.Path)
		}
		return openVideoCapture(ctx, s, opts)
	case KindGStreamer:
		return openVideoCapture(ctx, s, opts)
	}
	return nil, fmt.Errorf("%w: unknown kind %q", ErrBadSpec, s.Kind)
}

// Opener opens (or reopens) a source; a Pump calls it again after a disconnect.
type Opener func(ctx context.Context) (Source, error)

// SpecOpener returns an Opener for spec and opts.
func SpecOpener(spec string, opts Options) Opener {
	return func(ctx context.Context) (Source, error) { return Open(ctx, spec, opts) }
}

// OpenCVVersion is the version of the OpenCV library gocv is linked against.
func OpenCVVersion() string { return gocv.OpenCVVersion() }

// CheckGStreamer reports whether OpenCV was built with a working GStreamer backend, by
// reading one frame from a videotestsrc pipeline. gocv v0.32 has no binding for
// cv::getBuildInformation, and a pipeline that runs is the better proof anyway.
func CheckGStreamer(ctx context.Context) error {
	src, err := Open(ctx, "gst:videotestsrc num-buffers=2 ! video/x-raw,width=64,height=48 ! videoconvert ! appsink sync=false", Options{})
	if err != nil {
		return fmt.Errorf("capture: GStreamer backend unavailable: %w", err)
	}
	defer src.Close()
	m := gocv.NewMat()
	defer m.Close()
	if err := src.Read(ctx, &m); err != nil {
		return fmt.Errorf("capture: GStreamer backend opened but gave no frame: %w", err)
	}
	return nil
}
