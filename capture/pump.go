package capture

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"gocv.io/x/gocv"
)

// ErrDisconnected: the pump's camera is disconnected and it is trying to reopen it.
var ErrDisconnected = errors.New("capture: camera disconnected")

// Frame is one image from a pump. The consumer that received it from [Pump.Next] owns
// it and must call Close exactly when done (Close is idempotent, so a deferred Close
// after an early one is harmless). Mat must not be used after Close.
type Frame struct {
	Seq  uint64    // 1, 2, 3... per pump; a gap means frames were dropped
	Time time.Time // when the source delivered the frame
	Mat  gocv.Mat  // 8-bit BGR

	once sync.Once
}

// Close releases the frame's Mat.
func (f *Frame) Close() error {
	f.once.Do(func() { f.Mat.Close() })
	return nil
}

// State is the pump's view of its camera.
type State int

const (
	StateStarting     State = iota // opened, no frame yet
	StateStreaming                 // frames flowing
	StateDisconnected              // reads failed; reopening with backoff
	StateReconnected               // frames flowing again after a disconnect
	StateEnded                     // finite stream ended or reconnecting gave up; see Pump.Err
	StateStopped                   // Stop was called (or the pump's context ended)
)

func (s State) String() string {
	switch s {
	case StateStarting:
		return "starting"
	case StateStreaming:
		return "streaming"
	case StateDisconnected:
		return "disconnected"
	case StateReconnected:
		return "reconnected"
	case StateEnded:
		return "ended"
	case StateStopped:
		return "stopped"
	}
	return fmt.Sprintf("state(%d)", int(s))
}

// MarshalText makes states readable in JSON.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state written by MarshalText.
func (s *State) UnmarshalText(b []byte) error {
	for v := StateStarting; v <= StateStopped; v++ {
		if v.String() == string(b) {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("capture: unknown pump state %q", b)
}

// Event reports a change of the pump's state.
type Event struct {
	State State
	Time  time.Time
	Err   error // why: for StateDisconnected and StateEnded
	Info  Info  // the source's description, for StateStreaming and StateReconnected
}

// PumpOptions tune a pump. The zero value is usable.
type PumpOptions struct {
	// OnEvent is told about state changes. It may be called from any goroutine (today
	// the pump's own), must return quickly and must not call back into the pump's
	// blocking methods; a GUI hands the event to its UI thread.
	OnEvent func(Event)
	// MinBackoff and MaxBackoff bound the wait between reopen attempts after a
	// disconnect; the wait doubles from Min to Max. Defaults 100ms and 2s.
	MinBackoff, MaxBackoff time.Duration
	// MaxRetries ends the pump with the last error after that many failed reopen
	// attempts in a row; 0 retries until the pump is stopped.
	MaxRetries int
}

// Stats are the pump's counters; see [Pump.Stats].
type Stats struct {
	State      State  `json:"state"`
	Read       uint64 `json:"read"`      // frames read from the source
	Delivered  uint64 `json:"delivered"` // frames taken by the consumer
	Dropped    uint64 `json:"dropped"`   // frames replaced before the consumer took them
	Reconnects int    `json:"reconnects"`
	// DeliveredFPS is the delivery rate between the first and the last delivered frame;
	// RecentFPS the same over the last few dozen deliveries.
	DeliveredFPS float64 `json:"delivered_fps"`
	RecentFPS    float64 `json:"recent_fps"`
	// ReadTime is the mean time spent in Source.Read: decoding plus waiting for the
	// sensor or the file's pacing, so about one frame interval for a paced source.
	ReadTime    time.Duration `json:"read_time_ns"`
	ReadTimeMax time.Duration `json:"read_time_max_ns"`
	// Latency is the mean age of a frame when the consumer took it: how stale the
	// picture the consumer sees is, beyond the camera's own delay.
	Latency    time.Duration `json:"latency_ns"`
	LatencyMax time.Duration `json:"latency_max_ns"`
}

// Pump owns one source in one goroutine and hands the newest frame to its consumer.
// A pump has one consumer: two goroutines calling Next would split the frames between
// them, so a consumer that feeds several users (preview, analysis) fans out itself.
// Stats, Info, Err, Done, ApplyControls and Stop are safe from any goroutine.
type Pump struct {
	open   Opener
	opts   PumpOptions
	cancel context.CancelFunc
	done   chan struct{}
	ctrl   chan ctrlReq
	notify chan struct{} // one-slot "a frame is waiting" signal

	mu       sync.Mutex
	slot     *Frame
	ended    bool
	err      error // why the pump ended
	info     Info
	controls *Controls // last controls applied through the pump, re-applied on reopen
	st       Stats
	readSum  time.Duration
	latSum   time.Duration
	first    time.Time
	last     time.Time
	recent   [32]time.Time
}

type ctrlReq struct {
	c     Controls
	reply chan ctrlResp
}

type ctrlResp struct {
	c   Controls
	err error
}

// StartPump opens the source once (returning that error directly, so a bad spec or a
// missing camera is reported at once) and starts pumping frames until Stop, ctx's end,
// the end of a finite stream, or MaxRetries failed reopens. Always call Stop when done,
// also after the pump ended on its own: it releases a frame nobody took.
func StartPump(ctx context.Context, open Opener, opts PumpOptions) (*Pump, error) {
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff < opts.MinBackoff {
		opts.MaxBackoff = max(2*time.Second, opts.MinBackoff)
	}
	src, err := open(ctx)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	p := &Pump{
		open: open, opts: opts, cancel: cancel,
		done:   make(chan struct{}),
		ctrl:   make(chan ctrlReq),
		notify: make(chan struct{}, 1),
		info:   src.Info(),
	}
	go p.run(ctx, src)
	return p, nil
}

// Next returns the newest frame not yet returned, waiting for one if needed. The caller
// owns the frame and must Close it. After the pump has ended, Next returns any frame
// still waiting, then the reason it ended: io.EOF at the end of a file, the last open
// error after MaxRetries, or ErrClosed after Stop.
func (p *Pump) Next(ctx context.Context) (*Frame, error) {
	for {
		p.mu.Lock()
		if f := p.slot; f != nil {
			p.slot = nil
			p.delivered(f)
			p.mu.Unlock()
			return f, nil
		}
		if p.ended {
			err := p.err
			p.mu.Unlock()
			return nil, err
		}
		p.mu.Unlock()
		select {
		case <-p.notify:
		case <-p.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// delivered updates the delivery statistics; p.mu is held.
func (p *Pump) delivered(f *Frame) {
	now := time.Now()
	age := now.Sub(f.Time)
	p.latSum += age
	p.st.LatencyMax = max(p.st.LatencyMax, age)
	if p.st.Delivered == 0 {
		p.first = now
	}
	p.recent[p.st.Delivered%uint64(len(p.recent))] = now
	p.st.Delivered++
	p.last = now
}

// Stats returns a snapshot of the counters.
func (p *Pump) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	s := p.st
	if s.Read > 0 {
		s.ReadTime = p.readSum / time.Duration(s.Read)
	}
	if s.Delivered > 0 {
		s.Latency = p.latSum / time.Duration(s.Delivered)
	}
	if s.Delivered > 1 {
		if d := p.last.Sub(p.first); d > 0 {
			s.DeliveredFPS = float64(s.Delivered-1) / d.Seconds()
		}
		n := min(s.Delivered, uint64(len(p.recent)))
		oldest := p.recent[(s.Delivered-n)%uint64(len(p.recent))]
		if d := p.last.Sub(oldest); d > 0 {
			s.RecentFPS = float64(n-1) / d.Seconds()
		}
	}
	return s
}

// Info describes the source currently open (the latest one after a reconnect).
func (p *Pump) Info() Info {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.info
}

// Done is closed when the pump's goroutine has finished.
func (p *Pump) Done() <-chan struct{} { return p.done }

// Err is why the pump ended (nil while it runs, ErrClosed after Stop).
func (p *Pump) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Stop ends the pump, closes the source and any frame the consumer did not take, and
// waits for the pump's goroutine. Frames the consumer holds stay its own to Close.
func (p *Pump) Stop() error {
	p.cancel()
	<-p.done
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.slot != nil {
		p.slot.Close()
		p.slot = nil
	}
	return nil
}

// ApplyControls applies camera controls between two reads (the pump's goroutine owns
// the device) and returns what the device reports it applied. The controls are
// re-applied whenever the pump reopens the camera. Empty Controls only read the
// current values. Sources without controls give ErrUnsupported; during a disconnect
// the result is ErrDisconnected.
func (p *Pump) ApplyControls(ctx context.Context, c Controls) (Controls, error) {
	req := ctrlReq{c: c, reply: make(chan ctrlResp, 1)}
	select {
	case p.ctrl <- req:
	case <-p.done:
		return Controls{}, ErrClosed
	case <-ctx.Done():
		return Controls{}, ctx.Err()
	}
	select {
	case r := <-req.reply:
		return r.c, r.err
	case <-ctx.Done():
		return Controls{}, ctx.Err()
	}
}

func (p *Pump) emit(e Event) {
	e.Time = time.Now()
	p.mu.Lock()
	p.st.State = e.State
	p.mu.Unlock()
	if p.opts.OnEvent != nil {
		p.opts.OnEvent(e)
	}
}

func (p *Pump) serveControls(src Source, req ctrlReq) {
	if src == nil {
		req.reply <- ctrlResp{err: ErrDisconnected}
		return
	}
	cs, ok := src.(Controllable)
	if !ok {
		req.reply <- ctrlResp{err: fmt.Errorf("%w: camera controls on a %s source", ErrUnsupported, src.Info().Kind)}
		return
	}
	got, err := cs.SetControls(req.c)
	if err == nil {
		p.mu.Lock()
		var c Controls
		if p.controls != nil {
			c = *p.controls
		}
		c = c.merge(req.c)
		p.controls = &c
		p.mu.Unlock()
	}
	req.reply <- ctrlResp{c: got, err: err}
}

func (p *Pump) run(ctx context.Context, src Source) {
	var endErr error
	state := StateStarting
	defer func() {
		if src != nil {
			src.Close()
		}
		final := StateEnded
		if endErr == nil || errors.Is(endErr, context.Canceled) || errors.Is(endErr, context.DeadlineExceeded) {
			final, endErr = StateStopped, ErrClosed
		}
		p.mu.Lock()
		p.ended, p.err = true, endErr
		p.mu.Unlock()
		p.emit(Event{State: final, Err: endErr})
		close(p.done)
	}()
	p.mu.Lock()
	p.st.State = state
	p.mu.Unlock()
	var seq uint64
	for {
		select {
		case req := <-p.ctrl:
			p.serveControls(src, req)
		default:
		}
		if ctx.Err() != nil {
			return
		}
		m := gocv.NewMat()
		t0 := time.Now()
		err := src.Read(ctx, &m)
		t1 := time.Now()
		if err != nil {
			m.Close()
			switch {
			case ctx.Err() != nil:
				return
			case errors.Is(err, io.EOF):
				endErr = io.EOF
				return
			}
			src.Close()
			src = nil
			p.emit(Event{State: StateDisconnected, Err: err})
			src, err = p.reopen(ctx)
			if err != nil {
				endErr = err
				return
			}
			state = StateDisconnected // the next frame announces the reconnection
			continue
		}
		seq++
		f := &Frame{Seq: seq, Time: t1, Mat: m}
		p.mu.Lock()
		if p.slot != nil {
			p.slot.Close()
			p.st.Dropped++
		}
		p.slot = f
		p.st.Read++
		d := t1.Sub(t0)
		p.readSum += d
		p.st.ReadTimeMax = max(p.st.ReadTimeMax, d)
		p.mu.Unlock()
		select {
		case p.notify <- struct{}{}:
		default:
		}
		switch state {
		case StateStarting:
			state = StateStreaming
			p.emit(Event{State: state, Info: src.Info()})
		case StateDisconnected:
			state = StateReconnected
			p.mu.Lock()
			p.st.Reconnects++
			p.mu.Unlock()
			p.emit(Event{State: state, Info: src.Info()})
		}
	}
}

// reopen retries the opener with doubling backoff until it succeeds, ctx ends or
// MaxRetries is reached. Control requests during the outage get ErrDisconnected.
func (p *Pump) reopen(ctx context.Context) (Source, error) {
	wait := p.opts.MinBackoff
	for attempt := 1; ; attempt++ {
		t := time.NewTimer(wait)
	waiting:
		for {
			select {
			case <-t.C:
				break waiting
			case req := <-p.ctrl:
				p.serveControls(nil, req)
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			}
		}
		src, err := p.open(ctx)
		if err == nil {
			p.mu.Lock()
			p.info = src.Info()
			c := p.controls
			p.mu.Unlock()
			if cs, ok := src.(Controllable); ok && c != nil {
				// Best effort: a camera that came back must stream even if a control
				// is refused; the technician sees the read-back values.
				cs.SetControls(*c)
			}
			return src, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if p.opts.MaxRetries > 0 && attempt >= p.opts.MaxRetries {
			return nil, fmt.Errorf("capture: gave up reopening after %d attempts: %w", attempt, err)
		}
		wait = min(2*wait, p.opts.MaxBackoff)
	}
}
