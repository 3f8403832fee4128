package biometrics

import (
	"image"
	"testing"
)

// fakeReport makes a report for a face with the eye midpoint at (x, y) and inter-eye
// distance d.
func fakeReport(pass bool, score int, x, y, d float64) *Report {
	f := Face{}
	f.Landmarks[LmLeftEyeOuter] = image.Pt(int(x-d/2-10), int(y))
	f.Landmarks[LmLeftEyeInner] = image.Pt(int(x-d/2+10), int(y))
	f.Landmarks[LmRightEyeInner] = image.Pt(int(x+d/2-10), int(y))
	f.Landmarks[LmRightEyeOuter] = image.Pt(int(x+d/2+10), int(y))
	r := &Report{Faces: []Face{f}, Subject: 0, Pass: pass, Score: score}
	r.Face = &r.Faces[0]
	l, rr := f.Eyes()
	r.Eyes = [2]Point{l, rr}
	return r
}

func TestSelector(t *testing.T) {
	type step struct {
		rep     *Report
		streak  int
		capture bool
		best    bool
	}
	for _, tc := range []struct {
		name  string
		steps []step
		best  int // index of the frame that ends up best
	}{
		{"steady good subject captures on the 3rd frame", []step{
			{fakeReport(true, 70, 500, 300, 120), 1, false, true},
			{fakeReport(true, 72, 502, 301, 121), 2, false, true},
			{fakeReport(true, 71, 503, 300, 120), 3, true, false},
			{fakeReport(true, 90, 503, 300, 120), 4, false, true}, // fires once only
		}, 3},
		{"moving subject never captures; the newest passing frame is the best", []step{
			{fakeReport(true, 70, 500, 300, 120), 1, false, true},
			{fakeReport(true, 70, 540, 300, 120), 1, false, true},
			{fakeReport(true, 70, 580, 300, 120), 1, false, true},
			{fakeReport(true, 70, 580, 300, 150), 1, false, true},
		}, 3},
		// Frames taken closer together move less each: a subject still stepping in (8 px
		// and 5 % of size per analysed frame, each step within the per-frame limits) is
		// not still, however fast the analysis runs: the streak is measured from its first
		// frame.
		{"slow drift across the streak never captures", []step{
			{fakeReport(true, 70, 500, 300, 100), 1, false, true},
			{fakeReport(true, 70, 508, 300, 105), 2, false, false},
			{fakeReport(true, 70, 516, 300, 110), 1, false, true},
			{fakeReport(true, 70, 524, 300, 115), 2, false, false},
			{fakeReport(true, 70, 532, 300, 120), 1, false, true},
		}, 4},
		{"a failing frame breaks the streak; passing beats a higher score; the capture comes from its own spell", []step{
			{fakeReport(false, 95, 500, 300, 120), 0, false, true},
			{fakeReport(true, 60, 500, 300, 120), 1, false, true},
			{fakeReport(true, 61, 500, 300, 120), 2, false, true},
			{fakeReport(false, 99, 500, 300, 120), 0, false, false},
			{nil, 0, false, false},
			// A new still spell: its frames replace the earlier spell's best, so the
			// capture comes from the spell that triggered it.
			{fakeReport(true, 50, 500, 300, 120), 1, false, true},
			{fakeReport(true, 50, 500, 300, 120), 2, false, false},
			{fakeReport(true, 50, 500, 300, 120), 3, true, false},
		}, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewSelector[int](SelectorConfig{StableFrames: 3})
			held := map[int]bool{}
			for i, st := range tc.steps {
				d, dropped := s.Offer(st.rep, i)
				held[i] = true
				for _, f := range dropped {
					if !held[f] {
						t.Fatalf("step %d: frame %d released twice", i, f)
					}
					delete(held, f)
				}
				if d.Streak != st.streak || d.Capture != st.capture || d.Best != st.best {
					t.Errorf("step %d: %+v, want streak %d capture %v best %v", i, d, st.streak, st.capture, st.best)
				}
			}
			_, f, ok := s.Best()
			if !ok || f != tc.best {
				t.Errorf("best frame %d (%v), want %d", f, ok, tc.best)
			}
			if len(held) != 1 || !held[tc.best] {
				t.Errorf("frames still held: %v, want only %d", held, tc.best)
			}
			if dropped := s.Reset(); len(dropped) != 1 || dropped[0] != tc.best {
				t.Errorf("Reset released %v", dropped)
			}
			if _, _, ok := s.Best(); ok {
				t.Error("best frame after Reset")
			}
		})
	}
}
