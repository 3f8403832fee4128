package capture

import (
	"context"
	"errors"
	"image"
	"testing"
)

// The bench publishes previews (width-bound, never enlarged), samples with a growing
// sharpness trace, and a calibration verdict of the median of DefaultCalibrationFrames
// samples; a second calibration while one runs is refused. Tests wait on the events.
func TestBenchPublishesPreviewSamplesAndCalibration(t *testing.T) {
	p := CameraProfile{Name: "bench", Source: "synthetic:320x240@60", Thresholds: DefaultThresholds()}
	previews := make(chan *image.RGBA, 1)
	samples := make(chan BenchSample, 64)
	verdicts := make(chan Verdict, 1)
	b, err := StartBench(context.Background(), p, BenchOptions{PreviewWidth: 160, MeasureEvery: 1}, BenchEvents{
		Preview: func(img *image.RGBA) {
			select {
			case previews <- img:
			default:
			}
		},
		Sampled: func(s BenchSample) {
			select {
			case samples <- s:
			default:
			}
		},
		Calibrated: func(v Verdict) { verdicts <- v },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Stop()
	img := <-previews
	if img.Rect.Dx() != 160 || img.Rect.Dy() != 120 {
		t.Errorf("preview %v, want 160x120", img.Rect)
	}
	s1, s2 := <-samples, <-samples
	if len(s1.Histogram) != 256 || len(s2.Trace) < 2 || s2.Trace[len(s2.Trace)-1] != s2.Measures.SharpnessNorm {
		t.Errorf("samples: histogram %d bins, trace %v, sharpness %v", len(s1.Histogram), s2.Trace, s2.Measures.SharpnessNorm)
	}
	if err := b.Calibrate(p.Thresholds); err != nil {
		t.Fatal(err)
	}
	if err := b.Calibrate(p.Thresholds); !errors.Is(err, ErrCalibrating) {
		t.Errorf("second calibration: %v, want ErrCalibrating", err)
	}
	if v := <-verdicts; len(v.Checks) == 0 {
		t.Errorf("verdict without checks: %+v", v)
	}
	b.Stop()
	<-b.Done()
}

// A bench with no callbacks runs (no-op defaults) and a bad profile is refused.
func TestBenchDefaultsAndBadProfile(t *testing.T) {
	if _, err := StartBench(context.Background(), CameraProfile{Source: "synthetic"}, BenchOptions{}, BenchEvents{}); !errors.Is(err, ErrBadProfile) {
		t.Fatalf("unnamed profile: %v", err)
	}
	b, err := StartBench(context.Background(), CameraProfile{Name: "quiet", Source: "synthetic:64x48@60"}, BenchOptions{MeasureEvery: 1}, BenchEvents{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Calibrate(DefaultThresholds()); err != nil {
		t.Fatal(err)
	}
	b.Stop()
	<-b.Done()
}
