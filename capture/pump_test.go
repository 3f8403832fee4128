package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// eventLog collects pump events on a channel so tests wait for states without sleeping.
// Its OnEvent blocks when the channel is full, so tests with many events drain it.
func eventLog() (PumpOptions, chan Event) {
	ch := make(chan Event, 256)
	return PumpOptions{OnEvent: func(e Event) { ch <- e }, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond}, ch
}

// waitState reads events until one with state s arrives, failing on a terminal state.
func waitState(t *testing.T, ch chan Event, s State) Event {
	t.Helper()
	timeout := time.After(30 * time.Second) // a hang guard only, never a timing assert
	for {
		select {
		case e := <-ch:
			if e.State == s {
				return e
			}
			if (e.State == StateEnded || e.State == StateStopped) && s != StateEnded && s != StateStopped {
				t.Fatalf("pump %s (%v) while waiting for %s", e.State, e.Err, s)
			}
		case <-timeout:
			t.Fatalf("no %s event", s)
		}
	}
}

// TestPumpSuite runs every source of the shared suite through a pump: frames arrive in
// order, finite streams end with io.EOF, and the counters add up.
func TestPumpSuite(t *testing.T) {
	for _, tc := range sourceCases(t) {
		t.Run(tc.name, func(t *testing.T) {
			opts, events := eventLog()
			p, err := StartPump(context.Background(), SpecOpener(tc.spec, tc.opts), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer p.Stop()
			var last uint64
			var got int
			ctx := context.Background()
			for got < tc.frames || tc.finite {
				f, err := p.Next(ctx)
				if err != nil {
					if tc.finite && errors.Is(err, io.EOF) {
						break
					}
					t.Fatalf("Next after %d frames: %v", got, err)
				}
				if f.Seq <= last {
					t.Errorf("Seq %d after %d", f.Seq, last)
				}
				if f.Mat.Cols() != tc.w || f.Mat.Rows() != tc.h {
					t.Errorf("frame %d is %dx%d", f.Seq, f.Mat.Cols(), f.Mat.Rows())
				}
				last = f.Seq
				got++
				f.Close()
				f.Close() // idempotent
			}
			if got == 0 {
				t.Fatal("no frames delivered")
			}
			waitState(t, events, StateStreaming)
			if tc.finite {
				waitState(t, events, StateEnded)
				st := p.Stats()
				if st.Read != uint64(tc.frames) || st.Delivered+st.Dropped != st.Read || st.Delivered != uint64(got) {
					t.Errorf("stats %+v: want read %d = delivered %d + dropped", st, tc.frames, got)
				}
				if !errors.Is(p.Err(), io.EOF) {
					t.Errorf("Err = %v, want io.EOF", p.Err())
				}
			}
			p.Stop()
			if _, err := p.Next(ctx); !errors.Is(err, ErrClosed) && !errors.Is(err, io.EOF) {
				t.Errorf("Next after Stop = %v", err)
			}
			if err := p.Stop(); err != nil {
				t.Errorf("second Stop: %v", err)
			}
		})
	}
}

// gatedSource reads a real source only when the test sends a token, so the test knows
// exactly how many frames the pump has published.
type gatedSource struct {
	Source
	gate chan struct{}
}

func (g *gatedSource) Read(ctx context.Context, dst *gocv.Mat) error {
	select {
	case <-g.gate:
	case <-ctx.Done():
		return ctx.Err()
	}
	return g.Source.Read(ctx, dst)
}

// TestPumpDropsStale: frames the consumer has not taken are replaced by newer ones and
// counted as dropped; the consumer gets the newest.
func TestPumpDropsStale(t *testing.T) {
	gate := make(chan struct{})
	open := func(ctx context.Context) (Source, error) {
		s, err := Open(ctx, "synthetic:64x48", Options{Fast: true})
		if err != nil {
			return nil, err
		}
		return &gatedSource{Source: s, gate: gate}, nil
	}
	p, err := StartPump(context.Background(), open, PumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	tokens := 0
	for round, n := range []int{5, 1, 3} {
		// Handing over token n+1 proves reads 1..n were published: the pump reads in order.
		for i := 0; i <= n; i++ {
			gate <- struct{}{}
		}
		tokens += n + 1
		f, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		st := p.Stats()
		t.Logf("round %d: got seq %d, stats %+v", round, f.Seq, st)
		if f.Seq < uint64(tokens-1) {
			t.Errorf("round %d: got frame %d, but frame %d was already published", round, f.Seq, tokens-1)
		}
		if st.Delivered != uint64(round+1) {
			t.Errorf("delivered %d, want %d", st.Delivered, round+1)
		}
	}
	// Reads so far: 5+1 + 1+1 + 3+1 = 12 tokens, of which the last frame of each round
	// was taken after the first n-1 of its round were dropped (one read may be in flight).
	st := p.Stats()
	if st.Dropped < 4+0+2 {
		t.Errorf("dropped %d, want at least 6", st.Dropped)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Next(ctx); err != nil && !errors.Is(err, context.Canceled) {
		t.Errorf("Next with cancelled ctx = %v", err)
	}
}

// faultySource wraps a real source and fails every read after failAfter reads, as an
// unplugged camera does.
type faultySource struct {
	Source
	failAfter int
	n         int
}

func (f *faultySource) Read(ctx context.Context, dst *gocv.Mat) error {
	f.n++
	if f.n > f.failAfter {
		return fmt.Errorf("%w: injected unplug", ErrReadFailed)
	}
	return f.Source.Read(ctx, dst)
}

// TestPumpUnplug: reads fail, reopening fails once, then waits (the camera is still
// away), then the camera is back. The pump reports disconnected then reconnected; the
// consumer never blocks: during the outage Next with a deadline returns, and frames
// resume afterwards.
func TestPumpUnplug(t *testing.T) {
	video := makeVideo(t, "seulgi.jpg", 160, 120, 30, 8)
	var opens atomic.Int32
	back := make(chan struct{})
	open := func(ctx context.Context) (Source, error) {
		n := opens.Add(1)
		switch n {
		case 2:
			return nil, fmt.Errorf("%w: still unplugged", ErrNoDevice)
		case 3:
			select { // the camera comes back when the test says so
			case <-back:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		s, err := Open(ctx, video, Options{Fast: true, Loop: true})
		if err != nil {
			return nil, err
		}
		if n == 1 {
			return &faultySource{Source: s, failAfter: 4}, nil
		}
		return s, nil
	}
	opts, events := eventLog()
	p, err := StartPump(context.Background(), open, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	waitState(t, events, StateStreaming)
	e := waitState(t, events, StateDisconnected)
	if !errors.Is(e.Err, ErrReadFailed) {
		t.Errorf("disconnect cause %v, want ErrReadFailed", e.Err)
	}
	// Outage: at most the frame left from before the unplug, then Next gives up at its
	// deadline instead of hanging.
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
		f, err := p.Next(ctx)
		cancel()
		if err != nil {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Next during outage = %v, want DeadlineExceeded", err)
			}
			break
		}
		if f.Seq > 4 || i > 0 {
			t.Fatalf("frame %d during the outage", f.Seq)
		}
		f.Close()
	}
	if st := p.Stats(); st.State != StateDisconnected {
		t.Errorf("state during outage %s", st.State)
	}
	close(back)
	waitState(t, events, StateReconnected)
	if got := opens.Load(); got != 3 {
		t.Errorf("opened %d times, want 3 (first, one failure, success)", got)
	}
	f, err := p.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if f.Seq <= 4 {
		t.Errorf("frame %d after reconnecting; want a new one", f.Seq)
	}
	f.Close()
	if st := p.Stats(); st.Reconnects != 1 || st.State != StateReconnected {
		t.Errorf("stats %+v, want 1 reconnect, state reconnected", st)
	}
}

// TestPumpGivesUp: with MaxRetries the pump ends with the last open error and the
// consumer's Next returns it instead of waiting forever.
func TestPumpGivesUp(t *testing.T) {
	var opens atomic.Int32
	open := func(ctx context.Context) (Source, error) {
		if opens.Add(1) > 1 {
			return nil, fmt.Errorf("%w: /dev/video0 gone", ErrNoDevice)
		}
		s, err := Open(ctx, "synthetic:64x48", Options{Fast: true})
		if err != nil {
			return nil, err
		}
		return &faultySource{Source: s, failAfter: 2}, nil
	}
	opts, events := eventLog()
	opts.MaxRetries = 3
	p, err := StartPump(context.Background(), open, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	e := waitState(t, events, StateEnded)
	if !errors.Is(e.Err, ErrNoDevice) {
		t.Errorf("end cause %v, want ErrNoDevice", e.Err)
	}
	for {
		f, err := p.Next(context.Background())
		if err != nil {
			if !errors.Is(err, ErrNoDevice) {
				t.Errorf("Next = %v, want ErrNoDevice", err)
			}
			break
		}
		f.Close()
	}
	if got := opens.Load(); got != 4 {
		t.Errorf("opened %d times, want 1 + 3 retries", got)
	}
}

func TestStartPumpOpenError(t *testing.T) {
	_, err := StartPump(context.Background(), SpecOpener("/dev/video97", Options{}), PumpOptions{})
	if !errors.Is(err, ErrNoDevice) {
		t.Fatalf("err = %v, want ErrNoDevice", err)
	}
}

// fakeControlled is a real source with a fake control device, recording what was set.
type fakeControlled struct {
	Source
	dev *fakeProps
}

func (f *fakeControlled) Read(ctx context.Context, dst *gocv.Mat) error {
	if f.dev.unplug.Load() {
		return fmt.Errorf("%w: injected unplug", ErrReadFailed)
	}
	return f.Source.Read(ctx, dst)
}

func (f *fakeControlled) SetControls(c Controls) (Controls, error) { return applyControls(f.dev, c) }
func (f *fakeControlled) Controls() (Controls, error)              { return readControls(f.dev), nil }

func TestPumpControls(t *testing.T) {
	// The synthetic source has no controls.
	p, err := StartPump(context.Background(), SpecOpener("synthetic:64x48", Options{Fast: true}), PumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.ApplyControls(context.Background(), Controls{Gain: ptr(3.0)}); !errors.Is(err, ErrUnsupported) {
		t.Errorf("controls on synthetic = %v, want ErrUnsupported", err)
	}
	p.Stop()

	// Controls applied through the pump are re-applied on the reopened camera.
	devs := make(chan *fakeProps, 4)
	var opens atomic.Int32
	open := func(ctx context.Context) (Source, error) {
		s, err := Open(ctx, "synthetic:64x48", Options{Fast: true})
		if err != nil {
			return nil, err
		}
		opens.Add(1)
		dev := newFakeProps()
		devs <- dev
		return &fakeControlled{Source: s, dev: dev}, nil
	}
	opts, events := eventLog()
	p, err = StartPump(context.Background(), open, opts)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop()
	first := <-devs
	got, err := p.ApplyControls(context.Background(), Controls{AutoExposure: ptr(false), Exposure: ptr(250.0)})
	if err != nil {
		t.Fatal(err)
	}
	if got.Exposure == nil || *got.Exposure != 250 || got.AutoExposure == nil || *got.AutoExposure {
		t.Errorf("read back %s", fmtControls(got))
	}
	if first.props[gocv.VideoCaptureExposure] != 250 {
		t.Errorf("device exposure %v", first.props[gocv.VideoCaptureExposure])
	}
	if read, err := p.ApplyControls(context.Background(), Controls{}); err != nil || read.Exposure == nil || *read.Exposure != 250 {
		t.Errorf("reading controls: %s, %v", fmtControls(read), err)
	}
	// A second, partial apply adds to the first for the reopen.
	if _, err := p.ApplyControls(context.Background(), Controls{Gain: ptr(7.0)}); err != nil {
		t.Fatal(err)
	}
	// Now unplug the first camera.
	first.unplug.Store(true)
	waitState(t, events, StateReconnected)
	second := <-devs
	if second.Get(gocv.VideoCaptureExposure) != 250 || second.Get(gocv.VideoCaptureAutoExposure) != v4l2ExposureManual || second.Get(gocv.VideoCaptureGain) != 7 {
		t.Errorf("controls not re-applied after reconnect: %v", second.props)
	}
}

func ptr[T any](v T) *T { return &v }
