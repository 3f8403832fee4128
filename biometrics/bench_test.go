package biometrics

import "testing"

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
