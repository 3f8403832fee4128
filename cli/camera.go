package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"enrollstation/capture"
)

func cameraCommands() []Command {
	return []Command{
		{
			Name:    "camera list",
			Args:    "[--json]",
			Summary: "list the V4L2 cameras with their formats, resolutions and frame rates",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				asJSON := fs.Bool("json", false, "print the cameras as JSON")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: camera list takes no arguments", ErrUsage)
					}
					devs, err := capture.ListDevices()
					if err != nil {
						return err
					}
					if *asJSON {
						return writeJSON(env.Stdout, devs)
					}
					printDevices(env.Stdout, devs)
					return nil
				}
			},
		},
		{
			Name:    "camera test",
			Args:    "--source SRC [--seconds N] [--size WxH] [--fps F] [--fast] [--profile FILE] [--json]",
			Summary: "stream a camera and report fps, drops, latency and calibration measures (exit 1 when a measure fails)",
			Setup: func(fs *flag.FlagSet) func(context.Context, *Env, []string) error {
				source := fs.String("source", "", "camera `SRC`: /dev/videoN, an index, a video file, gst:PIPELINE or synthetic[:WxH@FPS] (default: --camera)")
				seconds := fs.Float64("seconds", 5, "how long to stream")
				size := fs.String("size", "", "resolution to ask the camera for, `WxH` (default: the camera's)")
				fps := fs.Float64("fps", 0, "frame rate to ask the camera for (default: the camera's)")
				profile := fs.String("profile", "", "camera profile JSON `FILE`: its source, resolution, rate, controls and thresholds (flags given override it)")
				fast := fs.Bool("fast", false, "read video files and the synthetic source as fast as possible instead of at their frame rate")
				asJSON := fs.Bool("json", false, "print the report as JSON")
				return func(ctx context.Context, env *Env, args []string) error {
					if len(args) > 0 {
						return fmt.Errorf("%w: unexpected argument %q", ErrUsage, args[0])
					}
					// Files loop so that --seconds, not the file's length, sets the run.
					opts := capture.Options{Loop: true}
					th := capture.DefaultThresholds()
					src := *source
					if *profile != "" {
						b, err := os.ReadFile(*profile)
						if err != nil {
							return fmt.Errorf("reading camera profile: %w", err)
						}
						p, err := capture.UnmarshalProfile(b)
						if err != nil {
							return fmt.Errorf("%s: %w", *profile, err)
						}
						opts = p.Options()
						opts.Loop = true
						th = p.Thresholds
						if src == "" {
							src = p.Source
						}
					}
					if src == "" {
						src = env.Camera
					}
					if src == "" {
						return fmt.Errorf("%w: --source is required (or --camera, or --profile)", ErrUsage)
					}
					if !(*seconds > 0 && *seconds <= 3600) {
						return fmt.Errorf("%w: --seconds must be in (0, 3600]", ErrUsage)
					}
					if *fps > 0 {
						opts.FPS = *fps
					}
					opts.Fast = *fast
					if *size != "" {
						w, h, ok := parseSize(*size)
						if !ok {
							return fmt.Errorf("%w: --size %q: want WxH, e.g. 1280x720", ErrUsage, *size)
						}
						opts.Width, opts.Height = w, h
					}
					var progress io.Writer = env.Stderr
					if *asJSON {
						progress = io.Discard
					}
					r, err := runCameraTest(ctx, src, opts, th, time.Duration(*seconds*float64(time.Second)), progress)
					if err != nil {
						return err
					}
					if *asJSON {
						if err := writeJSON(env.Stdout, r); err != nil {
							return err
						}
					} else {
						printCameraTest(env.Stdout, r)
					}
					if !r.Pass {
						return ExitError{Code: 1}
					}
					return nil
				}
			},
		},
	}
}

func parseSize(s string) (w, h int, ok bool) {
	ws, hs, ok := strings.Cut(s, "x")
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	return w, h, ok && err1 == nil && err2 == nil && w > 0 && h > 0 && w <= 8192 && h <= 8192
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printDevices(w io.Writer, devs []capture.Device) {
	if len(devs) == 0 {
		fmt.Fprintln(w, "no cameras found (nothing capture-capable under /sys/class/video4linux)")
		return
	}
	for _, d := range devs {
		fmt.Fprintf(w, "%s  %s", d.Path, d.Name)
		if d.Bus != "" {
			fmt.Fprintf(w, "  (%s, %s)", d.Driver, d.Bus)
		}
		fmt.Fprintln(w)
		if d.Err != "" {
			fmt.Fprintf(w, "    error: %s\n", d.Err)
		}
		for _, f := range d.Formats {
			var sizes []string
			for _, s := range f.Sizes {
				fps := ""
				if len(s.FPS) > 0 {
					fps = fmt.Sprintf("@%g", s.FPS[0])
				}
				sizes = append(sizes, fmt.Sprintf("%dx%d%s", s.Width, s.Height, fps))
			}
			fmt.Fprintf(w, "    %-4s %-22s %s\n", f.FourCC, f.Description, strings.Join(sizes, " "))
		}
		for _, c := range d.Controls {
			field := ""
			if c.Field != "" {
				field = " [" + c.Field + "]"
			}
			fmt.Fprintf(w, "    control %-28s %s %d..%d step %d, default %d%s\n", c.Name, c.Type, c.Min, c.Max, c.Step, c.Default, field)
		}
	}
}

// cameraTestReport is what "camera test" prints.
type cameraTestReport struct {
	Source     capture.Info       `json:"source"`
	Seconds    float64            `json:"seconds"`
	Stats      capture.Stats      `json:"stats"`
	Measured   int                `json:"measured_frames"`
	Measures   capture.Measures   `json:"measures"` // medians over the measured frames
	Thresholds capture.Thresholds `json:"thresholds"`
	Verdict    capture.Verdict    `json:"verdict"`
	Events     []string           `json:"events,omitempty"`
	Pass       bool               `json:"pass"`
}

// measureEvery is how often a frame goes to the calibration measures (about 10 ms of
// CPU at 720p each).
const measureEvery = 200 * time.Millisecond

func runCameraTest(ctx context.Context, spec string, opts capture.Options, th capture.Thresholds, d time.Duration, progress io.Writer) (*cameraTestReport, error) {
	events := make(chan capture.Event, 16)
	pump, err := capture.StartPump(ctx, capture.SpecOpener(spec, opts), capture.PumpOptions{
		OnEvent: func(e capture.Event) {
			select {
			case events <- e:
			default: // the report keeps the first few; never block the pump
			}
		},
	})
	if err != nil {
		return nil, err
	}
	defer pump.Stop()
	r := &cameraTestReport{Source: pump.Info(), Thresholds: th}
	fmt.Fprintf(progress, "streaming %s for %v...\n", spec, d)

	// The measures run in their own goroutine, which receives frames only when idle:
	// the consumer loop stays fast, so drops count the pipeline, not our measuring.
	toMeasure := make(chan *capture.Frame)
	measured := make(chan []capture.Measures)
	go func() {
		var ms []capture.Measures
		for f := range toMeasure {
			if m, err := capture.Measure(f.Mat); err == nil {
				ms = append(ms, m)
			}
			f.Close()
		}
		measured <- ms
	}()

	runCtx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	start := time.Now()
	var lastMeasure time.Time
	var endErr error
	for {
		f, err := pump.Next(runCtx)
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				endErr = err
			}
			break
		}
		if time.Since(lastMeasure) < measureEvery {
			f.Close()
			continue
		}
		select {
		case toMeasure <- f: // the measuring goroutine owns f now
			lastMeasure = time.Now()
		default:
			f.Close()
		}
	}
	close(toMeasure)
	ms := <-measured
	r.Seconds = time.Since(start).Seconds()
	r.Stats = pump.Stats()
	r.Source = pump.Info()
	pump.Stop()
	for len(events) > 0 {
		e := <-events
		s := e.State.String()
		if e.Err != nil && !errors.Is(e.Err, capture.ErrClosed) {
			s += ": " + e.Err.Error()
		}
		r.Events = append(r.Events, s)
	}
	if endErr != nil && !errors.Is(endErr, io.EOF) && !errors.Is(endErr, capture.ErrClosed) {
		return nil, fmt.Errorf("camera test: %w", endErr)
	}
	if len(ms) == 0 {
		return nil, fmt.Errorf("camera test: no frame from %s in %v", spec, d)
	}
	r.Measured = len(ms)
	r.Measures = capture.MedianMeasures(ms)
	r.Verdict = r.Thresholds.Evaluate(r.Measures)
	r.Pass = r.Verdict.Pass
	return r, nil
}

func printCameraTest(w io.Writer, r *cameraTestReport) {
	s := r.Stats
	fmt.Fprintf(w, "source       %s (%s, %s)\n", r.Source.Spec, r.Source.Kind, r.Source.Backend)
	format := ""
	if r.Source.FourCC != "" {
		format = " " + r.Source.FourCC
	}
	fmt.Fprintf(w, "resolution   %dx%d%s, nominal %.2f fps\n", r.Source.Width, r.Source.Height, format, r.Source.FPS)
	fmt.Fprintf(w, "delivered    %d frames in %.1fs: %.2f fps (last second %.2f fps)\n", s.Delivered, r.Seconds, s.DeliveredFPS, s.RecentFPS)
	fmt.Fprintf(w, "dropped      %d of %d read\n", s.Dropped, s.Read)
	fmt.Fprintf(w, "reconnects   %d\n", s.Reconnects)
	fmt.Fprintf(w, "read time    mean %v, max %v (includes waiting for the next frame)\n", s.ReadTime.Round(time.Microsecond), s.ReadTimeMax.Round(time.Microsecond))
	fmt.Fprintf(w, "latency      mean %v, max %v (frame ready -> consumer)\n", s.Latency.Round(time.Microsecond), s.LatencyMax.Round(time.Microsecond))
	for _, e := range r.Events {
		fmt.Fprintf(w, "event        %s\n", e)
	}
	m := r.Measures
	fmt.Fprintf(w, "\ncalibration (median of %d frames):\n", r.Measured)
	fmt.Fprintf(w, "  sharpness       %.1f (native %.1f)\n", m.SharpnessNorm, m.Sharpness)
	fmt.Fprintf(w, "  mean luminance  %.1f\n", m.MeanLuma)
	fmt.Fprintf(w, "  clipped         dark %.2f%%, bright %.2f%%\n", 100*m.DarkClip, 100*m.BrightClip)
	fmt.Fprintf(w, "  dynamic range   %.0f (luma p99-p1)\n", m.DynamicRange)
	fmt.Fprintf(w, "  colour cast     %.1f (a* %.1f, b* %.1f over %.0f%% near-neutral pixels)\n", m.Cast, m.CastA, m.CastB, 100*m.NeutralShare)
	fmt.Fprintf(w, "  noise           %.2f\n", m.Noise)
	fmt.Fprintln(w)
	for _, c := range r.Verdict.Checks {
		mark, op := "PASS", ">="
		if !c.Pass {
			mark = "FAIL"
		}
		if c.Max {
			op = "<="
		}
		fmt.Fprintf(w, "%s  %-22s %.3g (limit %s %.3g)\n", mark, c.Name, c.Value, op, c.Limit)
	}
	if r.Pass {
		fmt.Fprintln(w, "camera test: PASS")
	} else {
		fmt.Fprintln(w, "camera test: FAIL")
	}
}
