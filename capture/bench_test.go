package capture

import (
	"context"
	"fmt"
	"image"
	"syscall"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// cpuTime is the process's user+system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchPump pushes b.N frames through a pump with one consumer taking every frame it
// can, and reports read and delivered fps and the process's CPU use (100% = one core).
func benchPump(b *testing.B, open Opener) {
	p, err := StartPump(context.Background(), open, PumpOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Stop()
	// Warm up (first decode, OpenCV thread pool) outside the measurement.
	for i := 0; i < 5; i++ {
		f, err := p.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	before := p.Stats()
	cpu0, t0 := cpuTime(b), time.Now()
	b.ResetTimer()
	for {
		f, err := p.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
		if p.Stats().Read-before.Read >= uint64(b.N) {
			break
		}
	}
	b.StopTimer()
	wall, cpu := time.Since(t0), cpuTime(b)-cpu0
	after := p.Stats()
	read, delivered := after.Read-before.Read, after.Delivered-before.Delivered
	b.ReportMetric(float64(read)/wall.Seconds(), "read-fps")
	b.ReportMetric(float64(delivered)/wall.Seconds(), "delivered-fps")
	b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu%")
	b.ReportMetric(0, "ns/op")
}

func BenchmarkPump(b *testing.B) {
	for _, sz := range []image.Point{{1280, 720}, {1920, 1080}} {
		b.Run(fmt.Sprintf("synthetic-%dx%d", sz.X, sz.Y), func(b *testing.B) {
			benchPump(b, SpecOpener(fmt.Sprintf("synthetic:%dx%d", sz.X, sz.Y), Options{Fast: true}))
		})
		b.Run(fmt.Sprintf("mjpg-file-%dx%d", sz.X, sz.Y), func(b *testing.B) {
			video := makeVideo(b, "bona.jpg", sz.X, sz.Y, 30, 30)
			benchPump(b, SpecOpener(video, Options{Fast: true, Loop: true}))
		})
	}
}

// BenchmarkPacedFile720p is the goal check: a 30 fps 720p MJPG file paced like a camera
// with one consumer. Run with a fixed count, e.g. -benchtime 300x (10 s); goal:
// delivered-fps >= 29.5 and dropped = 0.
func BenchmarkPacedFile720p(b *testing.B) {
	video := makeVideo(b, "bona.jpg", 1280, 720, 30, 30)
	p, err := StartPump(context.Background(), SpecOpener(video, Options{Loop: true}), PumpOptions{})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Stop()
	cpu0, t0 := cpuTime(b), time.Now()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f, err := p.Next(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
	b.StopTimer()
	st := p.Stats()
	b.ReportMetric(st.DeliveredFPS, "delivered-fps")
	b.ReportMetric(float64(st.Dropped), "dropped")
	b.ReportMetric(float64(st.Latency.Microseconds()), "latency-µs")
	b.ReportMetric(100*(cpuTime(b)-cpu0).Seconds()/time.Since(t0).Seconds(), "cpu%")
}

func BenchmarkMeasure(b *testing.B) {
	img := loadPhoto(b, "bona.jpg")
	defer img.Close()
	for _, sz := range []image.Point{{640, 480}, {1280, 720}, {1920, 1080}} {
		b.Run(fmt.Sprintf("%dx%d", sz.X, sz.Y), func(b *testing.B) {
			m := gocv.NewMat()
			defer m.Close()
			gocv.Resize(img, &m, sz, 0, 0, gocv.InterpolationLinear)
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, err := Measure(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
