package enroll

import (
	"context"
	"errors"
	"os"
	"sync"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"enrollstation/biometrics"
	"enrollstation/capture"
	"enrollstation/internal/testenv"
	"enrollstation/internal/testkit"
	"enrollstation/internal/videotest"
	"enrollstation/vault"
)

// rec is the one go-face recognizer of this test binary.
var rec *biometrics.Recognizer

func TestMain(m *testing.M) {
	code := func() int {
		r, err := biometrics.NewRecognizer(testenv.Root() + "/models")
		if err != nil {
			// Tests that need it skip through needRec.
			return m.Run()
		}
		rec = r
		defer r.Close()
		return m.Run()
	}()
	os.Exit(code)
}

func needRec(t *testing.T) *biometrics.Recognizer {
	t.Helper()
	testenv.ModelsDir(t) // skips or fails with the setup hint when models are missing
	if rec == nil {
		t.Fatal("recognizer did not load")
	}
	return rec
}

// outcome is what a capture session reported.
type outcome struct {
	captured *Capture
	failed   []Attempt
	lives    int
	previews int
	ended    error
}

// runSession runs a capture session on a video file until it ends (or, with loop, until
// act has been applied and a capture or failure came back).
func runSession(t *testing.T, video string, cfg CaptureConfig, act func(s *CaptureSession, lives <-chan Live, results <-chan any)) outcome {
	t.Helper()
	r := needRec(t)
	// The subjects are candid photos turned a few degrees: judged as a demo station does.
	live, final := biometrics.LiveConfig(), biometrics.DefaultConfig()
	live.Thresholds, final.Thresholds = DemoThresholds(), DemoThresholds()
	cfg.Live = biometrics.NewAssessor(r, live)
	cfg.Final = biometrics.NewAssessor(r, final)
	cfg.Camera = video
	var out outcome
	lives := make(chan Live, 1000)
	results := make(chan any, 100)
	ended := make(chan error, 1)
	previews := make(chan struct{}, 10000)
	seqs := previewSeqs
	s, err := StartCapture(context.Background(), cfg, CaptureEvents{
		Preview: func(p Preview) {
			previews <- struct{}{}
			if seqs != nil {
				seqs <- p.Seq
			}
		},
		Assessed: func(l Live) { lives <- l },
		Captured: func(c *Capture) { results <- c },
		Failed:   func(a Attempt) { results <- a },
		Ended:    func(err error) { ended <- err },
	})
	if err != nil {
		t.Fatal(err)
	}
	if act != nil {
		act(s, lives, results)
		s.Stop()
	} else {
		out.ended = <-ended
		s.Stop()
	}
	close(results)
	for x := range results {
		switch v := x.(type) {
		case *Capture:
			if out.captured == nil {
				out.captured = v
			}
		case Attempt:
			out.failed = append(out.failed, v)
		}
	}
	out.lives, out.previews = len(lives), len(previews)
	return out
}

func fileOpener(path string, loop bool) capture.Opener {
	return capture.SpecOpener(path, capture.Options{Loop: loop})
}

// Auto-capture fires on a cooperative subject, and not on a blurred copy or with two
// people in the frame. The capture carries a passing full-quality report, a portrait and
// a template.
func TestAutoCapture(t *testing.T) {
	r := needRec(t)
	dir := t.TempDir()
	tests := []struct {
		kind   videotest.Kind
		photos []string
		want   bool
	}{
		{videotest.Good, []string{"sejeong.jpg"}, true},
		{videotest.Blur, []string{"sejeong.jpg"}, false},
		{videotest.TwoOne, []string{"sejeong.jpg", "bona.jpg"}, false},
	}
	for _, tt := range tests {
		var paths []string
		for _, p := range tt.photos {
			paths = append(paths, testenv.Face(t, p))
		}
		video := videotest.Make(t, r, dir, tt.kind, 3, paths...)
		// The video loops, so a loaded machine (fewer assessments per second) only makes
		// this slower: stop at a capture, or after more assessments than auto-capture
		// needs over several loops.
		var lives int
		out := runSession(t, video, CaptureConfig{Open: fileOpener(video, true)},
			func(s *CaptureSession, live <-chan Live, results <-chan any) {
				for lives < 30 {
					select {
					case <-live:
						lives++
					case x := <-results:
						if c, ok := x.(*Capture); ok {
							// Put it back for runSession's tally.
							s.ev.Captured(c)
						}
						return
					}
				}
			})
		if out.previews == 0 || out.captured == nil && (lives < 30 || out.previews < 60) {
			t.Errorf("kind %d: %d assessments, %d previews", tt.kind, lives, out.previews)
		}
		if got := out.captured != nil; got != tt.want {
			t.Fatalf("kind %d: captured %v, want %v (failed %v)", tt.kind, got, tt.want, out.failed)
		}
		if c := out.captured; c != nil {
			if !c.Auto || !c.Report.Pass || c.Forced || len(c.Portrait) == 0 || len(c.Frame) == 0 || c.Geometry.Width < 480 || c.Width != 1280 {
				t.Errorf("capture %+v", c)
			}
		}
	}
}

// A blurred subject cannot be captured by hand either; after ForceAfter failed attempts
// the clerk may force it with a reason, and not before or without one.
func TestForcedCapture(t *testing.T) {
	r := needRec(t)
	video := videotest.Make(t, r, t.TempDir(), videotest.Blur, 2, testenv.Face(t, "sejeong.jpg"))
	out := runSession(t, video, CaptureConfig{Open: fileOpener(video, true), ForceAfter: 2},
		func(s *CaptureSession, lives <-chan Live, results <-chan any) {
			// Wait until the analyser has seen the face.
			for l := range lives {
				if l.Report != nil && l.Report.Face != nil {
					break
				}
			}
			s.Force("camera broken")
			if a := (<-results).(Attempt); !errors.Is(a.Err, ErrForceNotAllowed) || a.CanForce {
				t.Fatalf("early force: %+v", a)
			}
			for i := 1; i <= 2; i++ {
				for l := range lives { // a face in the new window
					if l.Report != nil && l.Report.Face != nil {
						break
					}
				}
				s.CaptureNow()
				a := (<-results).(Attempt)
				if a.Attempts != i || a.Report == nil || a.Report.Pass || a.CanForce != (i == 2) {
					t.Fatalf("attempt %d: %+v", i, a)
				}
			}
			// Forcing right after the last failure, before the new window has a frame,
			// accepts the best failed capture (it used to fail: nothing to capture yet).
			s.Force("")
			if a := (<-results).(Attempt); !errors.Is(a.Err, ErrForceNotAllowed) {
				t.Fatalf("force without reason: %+v", a)
			}
			s.Force("citizen has a medical condition")
			c, ok := (<-results).(*Capture)
			if !ok || !c.Forced || c.Reason != "citizen has a medical condition" || c.Attempts != 2 || c.Report.Pass {
				t.Fatalf("forced capture: %+v", c)
			}
		})
	_ = out
}

// previewSeqs, when set by a test before runSession, hears the Seq of every preview.
var previewSeqs chan uint64

// gate stops a source's frames while paused, as a camera whose subject stepped away, so
// a test knows which frame was the last one (no timing involved).
type gate struct {
	mu       sync.Mutex
	cond     *sync.Cond
	paused   bool
	inflight bool
	reads    uint64
}

func newGate() *gate { g := &gate{}; g.cond = sync.NewCond(&g.mu); return g }

// pause stops further reads and returns how many frames were read (the pump's Seq of
// the last frame), after any read in progress has finished.
func (g *gate) pause() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.paused = true
	for g.inflight {
		g.cond.Wait()
	}
	return g.reads
}

func (g *gate) resume() {
	g.mu.Lock()
	g.paused = false
	g.mu.Unlock()
	g.cond.Broadcast()
}

type gatedSource struct {
	capture.Source
	g *gate
}

func (s gatedSource) Read(ctx context.Context, dst *gocv.Mat) error {
	g := s.g
	stop := context.AfterFunc(ctx, func() { g.mu.Lock(); g.cond.Broadcast(); g.mu.Unlock() })
	defer stop()
	g.mu.Lock()
	for g.paused && ctx.Err() == nil {
		g.cond.Wait()
	}
	if err := ctx.Err(); err != nil {
		g.mu.Unlock()
		return err
	}
	g.inflight = true
	g.mu.Unlock()
	err := s.Source.Read(ctx, dst)
	g.mu.Lock()
	g.inflight = false
	if err == nil {
		g.reads++
	}
	g.mu.Unlock()
	g.cond.Broadcast()
	return err
}

// drainAnalysis returns once the analyser has assessed every frame handed to it (run
// on the analyser's goroutine, after the commands before it).
func drainAnalysis(s *CaptureSession) {
	done := make(chan struct{})
	s.command(func(a *analyser) {
		defer close(done)
		for {
			select {
			case m := <-a.s.work:
				a.assess(m)
				a.s.ready <- struct{}{}
			default:
				return
			}
		}
	})
	<-done
}

// A clerk who forces right after a failed attempt, before the camera has delivered
// another frame, gets the failed capture accepted, not "no face seen yet".
func TestForceRightAfterFailure(t *testing.T) {
	r := needRec(t)
	video := videotest.Make(t, r, t.TempDir(), videotest.Blur, 2, testenv.Face(t, "sejeong.jpg"))
	g := newGate()
	open := func(ctx context.Context) (capture.Source, error) {
		src, err := fileOpener(video, true)(ctx)
		if err != nil {
			return nil, err
		}
		return gatedSource{src, g}, nil
	}
	previewSeqs = make(chan uint64, 100000)
	defer func() { previewSeqs = nil }()
	seqs := previewSeqs
	runSession(t, video, CaptureConfig{Open: open, ForceAfter: 1}, func(s *CaptureSession, lives <-chan Live, results <-chan any) {
		for l := range lives {
			if l.Report != nil && l.Report.Face != nil {
				break
			}
		}
		// No frame after the last one read: once the preview loop has shown it (and so
		// handed it on, if the analyser was idle) and the analyser has assessed what it
		// was handed, the new window stays empty.
		last := g.pause()
		for seq := range seqs {
			if seq >= last {
				break
			}
		}
		drainAnalysis(s)
		s.CaptureNow()
		a, ok := (<-results).(Attempt)
		if !ok || a.Report == nil || a.Report.Pass || !a.CanForce {
			t.Fatalf("failed attempt: %+v", a)
		}
		s.Force("citizen has a medical condition") // the new window is empty
		c, ok := (<-results).(*Capture)
		if !ok {
			t.Fatal("force right after a failure did not capture")
		}
		if !c.Forced || c.Attempts != 1 || c.Report.Score != a.Report.Score || len(c.Portrait) == 0 {
			t.Fatalf("forced capture: forced %v, attempts %d, score %d (failed attempt %d)", c.Forced, c.Attempts, c.Report.Score, a.Report.Score)
		}
		g.resume()
	})
}

// Submitting stores a pending enrollment in the real encrypted store, and a second
// enrollment of the same person (another photo) finds the first as a duplicate.
func TestSubmitAndDuplicates(t *testing.T) {
	r := needRec(t)
	st, clerk := newStation(t)
	final := biometrics.NewAssessor(r, biometrics.DefaultConfig())
	capOf := func(photo string) *Capture { return photoCapture(t, final, photo, day) }
	d := validDetails().Normalize()
	no, _ := NewApplicationNumber(day)
	g, err := LoadGallery(st)
	if err != nil || g.Len() != 0 {
		t.Fatalf("empty gallery: %v %v", g, err)
	}
	c1 := capOf("bona.jpg")
	rv, err := NewReview(st, g, c1, 3)
	if err != nil || len(rv.Duplicates) != 0 {
		t.Fatal(rv, err)
	}
	if _, err := Submit(st, clerk, d, no, rv, false); !errors.Is(err, ErrNoConsent) {
		t.Fatalf("no consent: %v", err)
	}
	if _, err := Submit(st, clerk, d, "261125-123456-0", rv, true); !errors.Is(err, ErrBadApplicationNumber) {
		t.Fatalf("bad number: %v", err)
	}
	e, err := Submit(st, clerk, d, no, rv, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.Enrollment(e.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != vault.StatusPending || got.CapturedBy != "clerk" || got.Demographics.ApplicationNumber != no ||
		got.Demographics.Surname != "陈" || len(got.Portrait) == 0 || len(got.Template) == 0 {
		t.Errorf("stored %+v", got)
	}
	if c1.Forced != (got.Capture.Extra[ExtraForcedReason] != "") {
		t.Errorf("forced %v, extra %v", c1.Forced, got.Capture.Extra)
	}

	g, err = LoadGallery(st)
	if err != nil || g.Len() != 1 {
		t.Fatalf("gallery: %v", err)
	}
	rv2, err := NewReview(st, g, capOf("bona3.jpg"), 3)
	if err != nil {
		t.Fatal(err)
	}
	if !rv2.Suspect() || rv2.Duplicates[0].ID != e.ID || rv2.Duplicates[0].AppNo != no || rv2.Duplicates[0].Name != "陈 美玲" {
		t.Errorf("duplicates %+v", rv2.Duplicates[0].Match)
	}
	rv3, err := NewReview(st, g, capOf("luda.jpg"), 3) // another person, far from bona.jpg (0.55)
	if err != nil || rv3.Suspect() {
		t.Errorf("another person flagged: %+v %v", rv3.Duplicates[0].Match, err)
	}
}

// newStation provisions a station on a real software TPM with a clerk.
func newStation(t *testing.T) (*vault.Station, *vault.Session) {
	t.Helper()
	st, _ := testkit.NewStation(t, testkit.StationOptions{AdminPassword: "admin-password",
		Users: []testkit.User{{Name: "clerk", Roles: []vault.Role{vault.RoleClerk}}}})
	clerk, err := st.Login("clerk", "clerk-password")
	if err != nil {
		t.Fatal(err)
	}
	return st, clerk
}

// photoCapture finalises a test photo as a forced capture taken at day (the photos are
// not ICAO portraits), as the clerk's capture step would store it.
func photoCapture(t *testing.T, final *biometrics.Assessor, photo string, day time.Time) *Capture {
	t.Helper()
	data, err := os.ReadFile(testenv.Face(t, photo))
	if err != nil {
		t.Fatal(err)
	}
	m, err := biometrics.DecodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c, err := Finalize(m, final, biometrics.PortraitConfig{}, FinalizeInfo{Forced: true, Reason: "test photo", At: day})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
