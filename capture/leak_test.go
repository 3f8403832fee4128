//go:build matprofile

package capture

import (
	"bytes"
	"context"
	"image"
	"sync/atomic"
	"testing"
	"time"

	"gocv.io/x/gocv"
)

// TestPumpNoLeaks takes 3,000 frames from a pump, measures and previews each (the pump reads
// more, dropping those the consumer was too slow for; it is unplugged every 1,000 reads) and checks
// that every Mat created was closed. Run with: go test -tags matprofile ./capture/
func TestPumpNoLeaks(t *testing.T) {
	start := gocv.MatProfile.Count()
	video := makeVideo(t, "bona.jpg", 160, 120, 30, 20)
	var opens atomic.Int32
	open := func(ctx context.Context) (Source, error) {
		spec := video
		if opens.Add(1)%2 == 0 {
			spec = "synthetic:160x120"
		}
		s, err := Open(ctx, spec, Options{Fast: true, Loop: true})
		if err != nil {
			return nil, err
		}
		// Unplug every 1,000 reads so reconnects (and source switches) happen too.
		return &faultySource{Source: s, failAfter: 1000}, nil
	}
	p, err := StartPump(context.Background(), open, PumpOptions{MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var preview *image.RGBA
	for n := 0; n < 3000; n++ {
		f, err := p.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Measure(f.Mat); err != nil {
			t.Fatal(err)
		}
		if preview, err = PreviewImage(f.Mat, 80, 60, preview); err != nil {
			t.Fatal(err)
		}
		if _, err := LumaHistogram(f.Mat); err != nil {
			t.Fatal(err)
		}
		if n%7 == 0 {
			// A region measure as the technician screen does.
			if _, err := MeasureRegion(f.Mat, image.Rect(20, 10, 140, 110)); err != nil {
				t.Fatal(err)
			}
		}
		f.Close()
	}
	p.Stop()
	st := p.Stats()
	t.Logf("stats %+v", st)
	if st.Reconnects < 2 {
		t.Errorf("%d reconnects, want at least 2", st.Reconnects)
	}
	if got := gocv.MatProfile.Count(); got != start {
		var b bytes.Buffer
		gocv.MatProfile.WriteTo(&b, 1)
		t.Fatalf("Mat count %d after, %d before: leaked Mats:\n%s", got, start, b.String())
	}
}
