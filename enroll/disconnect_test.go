package enroll

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"gocv.io/x/gocv"

	"enrollstation/biometrics"
	"enrollstation/capture"
)

// unplugging wraps a real source and fails one read, as a camera pulled from its socket
// does; the first reopen fails too.
type unplugging struct {
	capture.Source
	reads  *atomic.Int64
	failAt int64
}

func (u *unplugging) Read(ctx context.Context, dst *gocv.Mat) error {
	if u.reads.Add(1) == u.failAt {
		return fmt.Errorf("test unplug: %w", capture.ErrReadFailed)
	}
	return u.Source.Read(ctx, dst)
}

// A camera that disconnects is reported, reopened by the session's pump, and the preview
// carries on without a restart.
func TestCaptureSurvivesDisconnect(t *testing.T) {
	r := needRec(t)
	var reads atomic.Int64
	var opens atomic.Int64
	open := func(ctx context.Context) (capture.Source, error) {
		if opens.Add(1) == 2 {
			return nil, fmt.Errorf("test: still unplugged: %w", capture.ErrReadFailed)
		}
		s, err := capture.Open(ctx, "synthetic:640x360@30", capture.Options{})
		if err != nil {
			return nil, err
		}
		return &unplugging{Source: s, reads: &reads, failAt: 10}, nil
	}
	states := make(chan capture.State, 100)
	previews := make(chan uint64, 1000)
	s, err := StartCapture(context.Background(), CaptureConfig{
		Open:  open,
		Live:  biometrics.NewAssessor(r, biometrics.LiveConfig()),
		Final: biometrics.NewAssessor(r, biometrics.DefaultConfig()),
	}, CaptureEvents{
		Camera:  func(e capture.Event) { states <- e.State },
		Preview: func(p Preview) { previews <- p.Seq },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	var seen []capture.State
	for st := range states {
		seen = append(seen, st)
		if st == capture.StateReconnected {
			break
		}
	}
	if !contains(seen, capture.StateDisconnected) {
		t.Errorf("states %v: no disconnect reported", seen)
	}
	// Frames flow again after the reconnect.
	before := len(previews)
	for n := 0; n < before+5; n++ {
		<-previews
	}
	if st := s.Stats(); st.Reconnects < 1 {
		t.Errorf("stats %+v", st)
	}
}

func contains[T comparable](xs []T, x T) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
