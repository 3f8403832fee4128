//go:build matprofile

package capture

import (
	"bytes"
	"context"
	"testing"

	"gocv.io/x/gocv"
)

// TestBenchNoLeaks runs the camera bench (preview, samples, a calibration) and checks
// that every Mat it created was closed. Run with: go test -tags matprofile ./capture/
func TestBenchNoLeaks(t *testing.T) {
	start := gocv.MatProfile.Count()
	verdict := make(chan Verdict, 1)
	samples := make(chan struct{}, 1000)
	b, err := StartBench(context.Background(), CameraProfile{Name: "leak", Source: "synthetic:320x240@60"}, BenchOptions{MeasureEvery: 2},
		BenchEvents{Sampled: func(BenchSample) { samples <- struct{}{} }, Calibrated: func(v Verdict) { verdict <- v }})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Calibrate(DefaultThresholds()); err != nil {
		t.Fatal(err)
	}
	<-verdict
	for i := 0; i < 20; i++ {
		<-samples
	}
	b.Stop()
	if n := gocv.MatProfile.Count(); n != start {
		var buf bytes.Buffer
		gocv.MatProfile.WriteTo(&buf, 1)
		t.Fatalf("%d Mats leaked by the bench:\n%s", n-start, buf.String())
	}
}
