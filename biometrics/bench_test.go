package biometrics

import (
	"testing"
	"time"
)

// BenchmarkAssess720p: the full assessment (JPEG hand-off, go-face detection, landmarks
// and descriptor, every measure, guidance, template) of one 1280x720 frame.
func BenchmarkAssess720p(b *testing.B) {
	a := assessor(b)
	f := frame720(b, "rena.jpg")
	defer f.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := a.Assess(f)
		if err != nil || rep.Template == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRecognize720p: bare go-face Recognize on the same frame as a JPEG, the
// baseline for BenchmarkAssess720p.
func BenchmarkRecognize720p(b *testing.B) {
	rec := recognizer(b)
	f := frame720(b, "rena.jpg")
	jpg, err := EncodeJPEG(f, 95)
	f.Close()
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		faces, err := rec.Recognize(jpg)
		if err != nil || len(faces) != 1 {
			b.Fatal(len(faces), err)
		}
	}
}

// BenchmarkAssess720pLive: as BenchmarkAssess720p with LiveConfig (analysis at 960 px).
func BenchmarkAssess720pLive(b *testing.B) {
	a := NewAssessor(recognizer(b), LiveConfig())
	f := frame720(b, "rena.jpg")
	defer f.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := a.Assess(f)
		if err != nil || rep.Template == nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAssessVsRecognize times the full assessment and a bare go-face Recognize of
// the same 1280x720 frame alternately in each iteration, so that load from other
// processes affects both alike; it reports both times and their ratio.
func BenchmarkAssessVsRecognize(b *testing.B) {
	a := assessor(b)
	rec := recognizer(b)
	f := frame720(b, "rena.jpg")
	defer f.Close()
	jpg, err := EncodeJPEG(f, 95)
	if err != nil {
		b.Fatal(err)
	}
	var ta, tr time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		if _, err := a.Assess(f); err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		if _, err := rec.Recognize(jpg); err != nil {
			b.Fatal(err)
		}
		ta += t1.Sub(t0)
		tr += time.Since(t1)
	}
	b.ReportMetric(float64(ta.Milliseconds())/float64(b.N), "assess-ms")
	b.ReportMetric(float64(tr.Milliseconds())/float64(b.N), "recognize-ms")
	b.ReportMetric(float64(ta)/float64(tr), "ratio")
}
