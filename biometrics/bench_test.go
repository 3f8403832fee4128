package biometrics

import (
	"fmt"
	"sort"
	"syscall"
	"testing"
	"time"

	"enrollstation/internal/testenv"
)

// BenchmarkAssess720p: the final assessment (HOG detection, CNN when HOG finds none, 68
// landmarks, pose, every measure, guidance, template) of one 1280x720 frame.
func BenchmarkAssess720p(b *testing.B) { benchAssess720p(b, assessor(b)) }

// benchAssess720p times a on the 1280x720 sejeong.jpg frame (the demo video's subject), reporting CPU too.
func benchAssess720p(b *testing.B, a *Assessor) {
	f := frame720(b, "sejeong.jpg")
	defer f.Close()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { reportCPU(b, cpu0) }()
	for i := 0; i < b.N; i++ {
		rep, err := a.Assess(f)
		if err != nil || rep.Template == nil && !a.Config().SkipTemplate {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecognize720p: bare Recognize (HOG, 5 landmarks, descriptor: dlib's own
// pipeline, as go-face ran it) on the same frame as a JPEG, the baseline for
// BenchmarkAssess720p.
func BenchmarkRecognize720p(b *testing.B) {
	rec := recognizer(b)
	f := frame720(b, "sejeong.jpg")
	jpg, err := EncodeJPEG(f, 95)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { reportCPU(b, cpu0) }()
	for i := 0; i < b.N; i++ {
		faces, err := rec.Recognize(jpg)
		if err != nil || len(faces) != 1 {
			b.Fatal(len(faces), err)
		}
	}
}

// BenchmarkAssess720pLive: the live assessment (LiveConfig: analysis at 960 px, detection
// at 320 px with a refined box, no template) of the same frame.
func BenchmarkAssess720pLive(b *testing.B) {
	a := NewAssessor(recognizer(b), LiveConfig())
	defer a.Close()
	benchAssess720p(b, a)
}

// BenchmarkAssessVsRecognize runs, in each iteration and on the same 1280x720 frame, the
// full assessment (DefaultConfig and LiveConfig) and a bare Recognize, so that load
// from other processes hits all three alike. It reports each one's median time and the
// ratio of the medians (full assessment / bare Recognize).
func BenchmarkAssessVsRecognize(b *testing.B) {
	a := assessor(b)
	live := NewAssessor(recognizer(b), LiveConfig())
	defer live.Close()
	rec := recognizer(b)
	f := frame720(b, "sejeong.jpg")
	defer f.Close()
	jpg, err := EncodeJPEG(f, 95)
	if err != nil {
		b.Fatal(err)
	}
	var ta, tl, tr []float64
	since := func(t time.Time) float64 { return float64(time.Since(t).Microseconds()) / 1000 }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t := time.Now()
		if _, err := a.Assess(f); err != nil {
			b.Fatal(err)
		}
		ta = append(ta, since(t))
		t = time.Now()
		if _, err := live.Assess(f); err != nil {
			b.Fatal(err)
		}
		tl = append(tl, since(t))
		t = time.Now()
		if _, err := rec.Recognize(jpg); err != nil {
			b.Fatal(err)
		}
		tr = append(tr, since(t))
	}
	ma, ml, mr := median(ta), median(tl), median(tr)
	b.ReportMetric(ma, "assess-ms")
	b.ReportMetric(ml, "live-ms")
	b.ReportMetric(mr, "recognize-ms")
	b.ReportMetric(ma/mr, "ratio")
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// cpuTime is the CPU time used by the whole process so far. Benchmarks report it per
// operation beside the wall time because this 2-core machine is shared: CPU time per
// operation hardly changes with load from other processes, wall time does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func reportCPU(b *testing.B, start time.Duration) {
	b.ReportMetric(float64(cpuTime()-start)/1e6/float64(b.N), "cpu-ms/op")
}

// BenchmarkMeasures720p: only what Assess adds to detection — the frame copy and every
// measure (pose fit, aligned face, pixel measures) — for the face found in a 1280x720 frame.
func BenchmarkMeasures720p(b *testing.B) {
	f := frame720(b, "sejeong.jpg")
	defer f.Close()
	a := assessor(b)
	faces, err := a.findFaces(f)
	if err != nil || len(faces) != 1 {
		b.Fatal(len(faces), err)
	}
	th := DefaultThresholds()
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { reportCPU(b, cpu0) }()
	for i := 0; i < b.N; i++ {
		work, err := toBGR(f)
		if err != nil {
			b.Fatal(err)
		}
		rep := &Report{}
		if err := measureFace(rep, th, work, faces, 0, 1); err != nil {
			b.Fatal(err)
		}
		rep.finish(th)
		work.Close()
	}
}

// BenchmarkTemplate: the template alone (face chip and descriptor network, from the 68
// landmarks) of the face in the 1280x720 frame, with jitter 0 (the default) and 10.
func BenchmarkTemplate(b *testing.B) {
	f := frame720(b, "sejeong.jpg")
	defer f.Close()
	faces, err := assessor(b).findFaces(f)
	if err != nil || len(faces) != 1 {
		b.Fatal(len(faces), err)
	}
	rec := recognizer(b)
	for _, jitter := range []int{0, 10} {
		b.Run(fmt.Sprintf("jitter=%d", jitter), func(b *testing.B) {
			pts := facePoints(faces[0])
			cpu0 := cpuTime()
			defer func() { reportCPU(b, cpu0) }()
			for i := 0; i < b.N; i++ {
				if _, err := rec.describePoints(f, pts, jitter, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkAssess720pJitter10 is BenchmarkAssess720p with templates averaged over 10
// jittered chips.
func BenchmarkAssess720pJitter10(b *testing.B) {
	rec, err := NewRecognizerConfig(RecognizerConfig{ModelsDir: testenv.ModelsDir(b), Jitter: 10})
	if err != nil {
		b.Fatal(err)
	}
	defer rec.Close()
	a := NewAssessor(rec, DefaultConfig())
	defer a.Close()
	benchAssess720p(b, a)
}
