package capture

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

type fakeSize struct {
	w, h, maxW, maxH uint32
	stepwise         bool
	ivals            [][2]uint32 // num, den
	ivalStepwise     bool
}

type fakeFmt struct {
	pix   string
	desc  string
	flags uint32
	sizes []fakeSize
}

// fakeNode answers V4L2 ioctls from a description, like a driver would.
type fakeNode struct {
	driver, card, bus string
	caps, devCaps     uint32
	formats           []fakeFmt
	ctrls             []fakeCtrl
	closed            *int
}

type fakeCtrl struct {
	id, typ, flags        uint32
	name                  string
	min, max, step, deflt int32
}

func pix(s string) uint32 {
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16 | uint32(s[3])<<24
}

func (f *fakeNode) ioctl(req uint, b []byte) error {
	switch req {
	case vidiocQueryCap:
		copy(b[0:16], f.driver)
		copy(b[16:48], f.card)
		copy(b[48:80], f.bus)
		ne.PutUint32(b[84:], f.caps)
		ne.PutUint32(b[88:], f.devCaps)
		return nil
	case vidiocEnumFmt:
		i := ne.Uint32(b[0:])
		if ne.Uint32(b[4:]) != v4l2BufTypeVideoCapture || int(i) >= len(f.formats) {
			return syscall.EINVAL
		}
		ff := f.formats[i]
		ne.PutUint32(b[8:], ff.flags)
		copy(b[12:44], ff.desc)
		ne.PutUint32(b[44:], pix(ff.pix))
		return nil
	case vidiocEnumFrameSizes:
		ff := f.find(ne.Uint32(b[4:]))
		i := ne.Uint32(b[0:])
		if ff == nil || int(i) >= len(ff.sizes) {
			return syscall.EINVAL
		}
		s := ff.sizes[i]
		if s.stepwise {
			ne.PutUint32(b[8:], 3)
			for k, v := range []uint32{s.w, s.maxW, 8, s.h, s.maxH, 8} {
				ne.PutUint32(b[12+4*k:], v)
			}
			return nil
		}
		ne.PutUint32(b[8:], v4l2FrmDiscrete)
		ne.PutUint32(b[12:], s.w)
		ne.PutUint32(b[16:], s.h)
		return nil
	case vidiocQueryCtrl:
		want := ne.Uint32(b[0:])
		if want&v4l2CtrlFlagNextCtrl == 0 {
			return syscall.EINVAL
		}
		for _, c := range f.ctrls { // sorted by id, like a driver
			if c.id > want&^v4l2CtrlFlagNextCtrl {
				ne.PutUint32(b[0:], c.id)
				ne.PutUint32(b[4:], c.typ)
				copy(b[8:40], c.name)
				for k, v := range []int32{c.min, c.max, c.step, c.deflt} {
					ne.PutUint32(b[40+4*k:], uint32(v))
				}
				ne.PutUint32(b[60:], c.flags)
				return nil
			}
		}
		return syscall.EINVAL
	case vidiocEnumFrameIntervals:
		ff := f.find(ne.Uint32(b[4:]))
		if ff == nil {
			return syscall.EINVAL
		}
		w, h, i := ne.Uint32(b[8:]), ne.Uint32(b[12:]), ne.Uint32(b[0:])
		for _, s := range ff.sizes {
			if (s.w == w && s.h == h) || (s.stepwise && s.maxW == w && s.maxH == h) {
				if int(i) >= len(s.ivals) {
					return syscall.EINVAL
				}
				if s.ivalStepwise {
					ne.PutUint32(b[16:], 3)
					for k, v := range []uint32{s.ivals[0][0], s.ivals[0][1], s.ivals[1][0], s.ivals[1][1], 1, 1} {
						ne.PutUint32(b[20+4*k:], v)
					}
					return nil
				}
				ne.PutUint32(b[16:], v4l2FrmDiscrete)
				ne.PutUint32(b[20:], s.ivals[i][0])
				ne.PutUint32(b[24:], s.ivals[i][1])
				return nil
			}
		}
		return syscall.EINVAL
	}
	return syscall.ENOTTY
}

func (f *fakeNode) find(p uint32) *fakeFmt {
	for i := range f.formats {
		if pix(f.formats[i].pix) == p {
			return &f.formats[i]
		}
	}
	return nil
}

func (f *fakeNode) Close() error { *f.closed++; return nil }

func TestListDevicesFake(t *testing.T) {
	sys := t.TempDir()
	for name, label := range map[string]string{"video0": "C920", "video1": "C920", "video2": "locked", "video10": "capture card", "v4l-subdev0": "x"} {
		os.MkdirAll(filepath.Join(sys, name), 0o755)
		os.WriteFile(filepath.Join(sys, name, "name"), []byte(label+"\n"), 0o644)
	}
	closed := 0
	nodes := map[string]*fakeNode{
		"/dev/video0": {driver: "uvcvideo", card: "HD Pro Webcam C920", bus: "usb-0000:00:14.0-1", caps: 0x84a00001 | v4l2CapDeviceCaps, devCaps: 0x04200001,
			formats: []fakeFmt{
				{pix: "YUYV", desc: "YUYV 4:2:2", sizes: []fakeSize{{w: 640, h: 480, ivals: [][2]uint32{{1, 30}, {1, 15}}}, {w: 1920, h: 1080, ivals: [][2]uint32{{1, 5}}}}},
				{pix: "MJPG", desc: "Motion-JPEG", flags: v4l2FmtFlagCompressed, sizes: []fakeSize{{w: 1920, h: 1080, ivals: [][2]uint32{{1, 30}, {1001, 30000}}}}},
			},
			ctrls: []fakeCtrl{
				{id: 0x00980001, typ: v4l2CtrlTypeCtrlClass, name: "User Controls"},
				{id: 0x00980900, typ: 1, name: "Brightness", min: -64, max: 64, step: 1},
				{id: 0x0098090c, typ: v4l2CtrlTypeBoolean, name: "White Balance, Automatic", max: 1, step: 1, deflt: 1},
				{id: 0x00980918, typ: v4l2CtrlTypeMenu, name: "Power Line Frequency", max: 2, step: 1, deflt: 1},
				{id: 0x0098091a, typ: 1, name: "White Balance Temperature", min: 2800, max: 6500, step: 10, deflt: 4600, flags: 0x10},
				{id: 0x009a0901, typ: v4l2CtrlTypeMenu, name: "Auto Exposure", max: 3, step: 1, deflt: 3},
				{id: 0x009a0902, typ: 1, name: "Exposure Time, Absolute", min: 3, max: 2047, step: 1, deflt: 250},
				{id: 0x009a090a, typ: 1, name: "Focus", flags: v4l2CtrlFlagDisabled},
			}},
		// The same camera's metadata node: capabilities says capture, device_caps says metadata only.
		"/dev/video1":  {driver: "uvcvideo", card: "HD Pro Webcam C920", caps: 0x84a00001 | v4l2CapDeviceCaps, devCaps: 0x04a00000},
		"/dev/video10": {driver: "em28xx", card: "USB capture", caps: v4l2CapVideoCapture, formats: []fakeFmt{{pix: "BGR3", desc: "BGR", sizes: []fakeSize{{w: 48, h: 32, maxW: 720, maxH: 576, stepwise: true, ivals: [][2]uint32{{1, 60}, {1, 1}}, ivalStepwise: true}}}}},
	}
	open := func(path string) (ioctler, error) {
		if path == "/dev/video2" {
			return nil, &os.PathError{Op: "open", Path: path, Err: os.ErrPermission}
		}
		n := nodes[path]
		n.closed = &closed
		return n, nil
	}
	devs, err := listDevices(sys, "/dev", open)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.MarshalIndent(devs, "", " ")
	golden := filepath.Join("testdata", "devices.golden.json")
	if *update {
		if err := os.WriteFile(golden, append(got, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./capture -run ListDevicesFake -args -update to create it)", err)
	}
	if string(got)+"\n" != string(want) {
		t.Errorf("devices differ from %s (refresh with -update if the change is intended):\n%s", golden, got)
	}
	if closed != 3 {
		t.Errorf("closed %d nodes, want 3", closed)
	}
}

// TestListDevicesHere runs real discovery; this machine may have no camera at all,
// which must give an empty list, not an error.
func TestListDevicesHere(t *testing.T) {
	devs, err := ListDevices()
	if err != nil {
		t.Fatal(err)
	}
	if devs == nil {
		t.Fatal("nil list; want an empty one")
	}
	for _, d := range devs {
		if d.Path == "" {
			t.Errorf("device without path: %+v", d)
		}
	}
	t.Logf("%d devices: %+v", len(devs), devs)
	none, err := listDevices(filepath.Join(t.TempDir(), "missing"), "/dev", openNode)
	if err != nil || none == nil || len(none) != 0 {
		t.Errorf("missing sysfs dir: %v, %v", none, err)
	}
}

// fuzzNode answers every ioctl with fuzzer bytes, as a buggy driver might.
type fuzzNode struct {
	data []byte
	n    int
}

func (f *fuzzNode) ioctl(req uint, b []byte) error {
	f.n++
	if f.n > 10000 {
		panic("unbounded enumeration")
	}
	if len(f.data) == 0 {
		return syscall.EINVAL
	}
	for i := range b {
		b[i] = f.data[(i+f.n)%len(f.data)]
	}
	if f.data[f.n%len(f.data)] == 0xff {
		return syscall.EINVAL
	}
	return nil
}

func (f *fuzzNode) Close() error { return nil }

func FuzzDescribe(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("uvcvideo\x00\x01\x00\x00\x80"))
	f.Add(make([]byte, 200))
	f.Fuzz(func(t *testing.T, data []byte) {
		var d Device
		describe(&fuzzNode{data: data}, &d)
		if _, err := json.Marshal(d); err != nil {
			t.Fatalf("device not encodable: %v", err)
		}
		if len(data) >= capSize {
			if _, err := parseCapability(data); err != nil {
				t.Fatal(err)
			}
		} else if _, err := parseCapability(data); err == nil {
			t.Fatal("short capability accepted")
		}
	})
}

// Big-endian variants carry bit 31 (vivid lists 'Y16 ' | 1<<31); v4l2-ctl shows "-BE".
func TestFourCCBigEndian(t *testing.T) {
	for v, want := range map[uint32]string{pix("Y16 "): "Y16", pix("Y16 ") | 1<<31: "Y16-BE", pix("XR15") | 1<<31: "XR15-BE", pix("YUYV"): "YUYV"} {
		if got := fourCC(v); got != want {
			t.Errorf("fourCC(%#x) = %q, want %q", v, got, want)
		}
	}
}
