//go:build devices && matprofile

package capture

import (
	"bytes"
	"context"
	"image"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// TestDevicePumpNoLeaks is TestPumpNoLeaks over the V4L2 source: frames from vivid are
// measured and previewed as the screens do, the camera is unplugged and plugged back in
// once, and every Mat created is closed. scripts/test-devices runs it in its guest.
func TestDevicePumpNoLeaks(t *testing.T) {
	dev := testCamera(t)
	start := gocv.MatProfile.Count()
	ev := newEvents()
	p, err := StartPump(context.Background(), SpecOpener(dev, Options{Width: 640, Height: 480}),
		PumpOptions{OnEvent: ev.on, MinBackoff: 50 * time.Millisecond, MaxBackoff: 400 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var preview *image.RGBA
	consume := func(n int) {
		for i := 0; i < n; i++ {
			f := nextFrame(t, p, 10*time.Second)
			// Measure costs most of a second of emulated CPU per frame in the guest:
			// every fifth frame keeps the run short and still covers its Mats.
			if i%5 == 0 {
				if _, err := Measure(f.Mat); err != nil {
					t.Fatal(err)
				}
			}
			if preview, err = PreviewImage(f.Mat, 160, 120, preview); err != nil {
				t.Fatal(err)
			}
			if _, err := LumaHistogram(f.Mat); err != nil {
				t.Fatal(err)
			}
			if i%7 == 0 {
				if _, err := MeasureRegion(f.Mat, image.Rect(160, 120, 480, 360)); err != nil {
					t.Fatal(err)
				}
			}
			f.Close()
		}
	}
	consume(40)
	disconnect(t, dev)
	ev.wait(t, StateDisconnected, 10*time.Second)
	unplug(t)
	ev.drain()
	replug(t, dev)
	ev.wait(t, StateReconnected, 30*time.Second)
	consume(40)
	p.Stop()
	st := p.Stats()
	t.Logf("stats %+v", st)
	if st.Reconnects < 1 {
		t.Errorf("%d reconnects, want at least 1", st.Reconnects)
	}
	if got := gocv.MatProfile.Count(); got != start {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("Mat count %d after, %d before: leaked Mats:\n%s", got, start, b.String())
	}
}
