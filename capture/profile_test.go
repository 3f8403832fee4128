package capture

import (
	"context"
	"errors"
	"testing"
)

func TestProfileRoundTrip(t *testing.T) {
	p := CameraProfile{
		Name: "counter 1", Source: "/dev/video0", Width: 1280, Height: 720, FPS: 30,
		Controls:   Controls{AutoExposure: ptr(false), Exposure: ptr(200.0), AutoWhiteBalance: ptr(false), WBTemperature: ptr(5000.0)},
		Thresholds: DefaultThresholds(),
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	q, err := UnmarshalProfile(b)
	if err != nil {
		t.Fatal(err)
	}
	if fmtControls(q.Controls) != fmtControls(p.Controls) || q.Thresholds != p.Thresholds || q.Width != 1280 || q.Source != p.Source {
		t.Errorf("round trip: %+v -> %s -> %+v", p, b, q)
	}
	o := q.Options()
	if o.Width != 1280 || o.Height != 720 || o.FPS != 30 || o.Controls == nil || *o.Controls.Exposure != 200 {
		t.Errorf("options %+v", o)
	}
}

func TestProfileInvalid(t *testing.T) {
	for _, tc := range []struct{ name, json string }{
		{"not json", `{`},
		{"unknown field", `{"name":"a","source":"0","colour":1}`},
		{"no name", `{"source":"0"}`},
		{"bad source", `{"name":"a","source":""}`},
		{"half resolution", `{"name":"a","source":"0","width":640}`},
		{"bad fps", `{"name":"a","source":"0","fps":-3}`},
		{"bad control", `{"name":"a","source":"0","controls":{"wb_temperature":99}}`},
		{"trailing", `{"name":"a","source":"0"} {}`},
	} {
		if _, err := UnmarshalProfile([]byte(tc.json)); !errors.Is(err, ErrBadProfile) {
			t.Errorf("%s: err = %v, want ErrBadProfile", tc.name, err)
		}
	}
	if _, err := (CameraProfile{}).Marshal(); !errors.Is(err, ErrBadProfile) {
		t.Errorf("Marshal of empty profile: %v", err)
	}
}

func TestApplyProfile(t *testing.T) {
	p := CameraProfile{Name: "test", Source: "synthetic:64x48", Controls: Controls{Gain: ptr(2.0)}}
	o := p.Options()
	o.Fast = true
	pump, err := StartPump(context.Background(), SpecOpener(p.Source, o), PumpOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer pump.Stop()
	if _, err := ApplyProfile(context.Background(), pump, p); !errors.Is(err, ErrUnsupported) {
		t.Errorf("profile on a synthetic source: %v, want ErrUnsupported", err)
	}
	if _, err := ApplyProfile(context.Background(), pump, CameraProfile{}); !errors.Is(err, ErrBadProfile) {
		t.Errorf("invalid profile: %v, want ErrBadProfile", err)
	}
}

func FuzzUnmarshalProfile(f *testing.F) {
	f.Add([]byte(`{"name":"a","source":"/dev/video0","width":1280,"height":720,"fps":30,"controls":{"gain":3},"thresholds":{"max_cast":8}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := UnmarshalProfile(b)
		if err != nil {
			if !errors.Is(err, ErrBadProfile) && !errors.Is(err, ErrBadSpec) {
				t.Fatalf("error %v is not ErrBadProfile", err)
			}
			return
		}
		b2, err := p.Marshal()
		if err != nil {
			t.Fatalf("accepted profile does not re-marshal: %v", err)
		}
		if _, err := UnmarshalProfile(b2); err != nil {
			t.Fatalf("re-marshalled profile rejected: %v", err)
		}
	})
}
