package capture

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Device is a V4L2 video capture device found by [ListDevices].
type Device struct {
	Path    string   `json:"path"` // /dev/videoN
	Name    string   `json:"name"` // the card name, e.g. "HD Pro Webcam C920"
	Driver  string   `json:"driver,omitempty"`
	Bus     string   `json:"bus,omitempty"` // e.g. usb-0000:00:14.0-1
	Formats []Format `json:"formats,omitempty"`
	// Controls are the device's adjustable controls with their ranges, for sliders.
	Controls []ControlRange `json:"controls,omitempty"`
	// Err is set when the node exists but could not be queried (e.g. permission
	// denied: the user is not in the "video" group).
	Err string `json:"error,omitempty"`
}

// Format is one pixel format a device offers.
type Format struct {
	FourCC      string      `json:"fourcc"`
	Description string      `json:"description"`
	Compressed  bool        `json:"compressed"`
	Sizes       []FrameSize `json:"sizes,omitempty"`
}

// FrameSize is one resolution with its frame rates. For stepwise or continuous sizes
// the device reports a range; we list its smallest and largest size with Range set.
type FrameSize struct {
	Width  int       `json:"width"`
	Height int       `json:"height"`
	FPS    []float64 `json:"fps,omitempty"`
	Range  bool      `json:"range,omitempty"`
}

// ControlRange is one V4L2 control a device offers. Field is the matching [Controls]
// JSON field ("exposure", "gain"...) or "" for controls capture does not drive.
type ControlRange struct {
	Field   string `json:"field,omitempty"`
	Name    string `json:"name"` // the driver's label, e.g. "Exposure (Absolute)"
	Min     int32  `json:"min"`
	Max     int32  `json:"max"`
	Step    int32  `json:"step"`
	Default int32  `json:"default"`
	Type    string `json:"type"` // "int", "bool", "menu" (e.g. exposure mode) or "other"
}

// controlFields maps V4L2 control IDs to Controls fields.
var controlFields = map[uint32]string{
	0x00980900: "brightness",
	0x00980901: "contrast",
	0x0098090c: "auto_white_balance",
	0x00980913: "gain",
	0x0098091a: "wb_temperature",
	0x009a0901: "auto_exposure", // a menu: 1 manual, 3 aperture priority
	0x009a0902: "exposure",
	0x009a090a: "focus",
	0x009a090c: "auto_focus",
}

// ioctler is an open V4L2 node; the real one calls ioctl(2), tests fake it.
type ioctler interface {
	ioctl(req uint, buf []byte) error
	Close() error
}

// V4L2 ioctl requests and constants (linux/videodev2.h).
const (
	vidiocQueryCap            = 0x80685600 // _IOR('V', 0, struct v4l2_capability) 104 bytes
	vidiocEnumFmt             = 0xc0405602 // _IOWR('V', 2, struct v4l2_fmtdesc) 64 bytes
	vidiocEnumFrameSizes      = 0xc02c564a // _IOWR('V', 74, struct v4l2_frmsizeenum) 44 bytes
	vidiocEnumFrameIntervals  = 0xc034564b // _IOWR('V', 75, struct v4l2_frmivalenum) 52 bytes
	vidiocQueryCtrl           = 0xc0445624 // _IOWR('V', 36, struct v4l2_queryctrl) 68 bytes
	queryCtrlSize             = 68
	v4l2CtrlFlagNextCtrl      = 0x80000000
	v4l2CtrlFlagDisabled      = 0x0001
	v4l2CtrlTypeInteger       = 1
	v4l2CtrlTypeBoolean       = 2
	v4l2CtrlTypeMenu          = 3
	v4l2CtrlTypeCtrlClass     = 6
	capSize, fmtSize          = 104, 64
	frmSizeSize, frmIvalSize  = 44, 52
	v4l2CapVideoCapture       = 0x00000001
	v4l2CapVideoCaptureMplane = 0x00001000
	v4l2CapDeviceCaps         = 0x80000000
	v4l2BufTypeVideoCapture   = 1
	v4l2FmtFlagCompressed     = 0x0001
	v4l2FrmDiscrete           = 1
	v4l2PixFmtBigEndian       = 1 << 31 // a FOURCC's flag for the big-endian variant
	maxEnum                   = 64      // bounds every enumeration against a misbehaving driver
	maxFormats                = 256     // as maxEnum; capture drivers offer up to ~90 (vivid)
)

var ne = binary.NativeEndian

type capability struct {
	Driver, Card, Bus string
	Caps              uint32 // the device node's own capabilities
}

func cstr(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

// parseCapability decodes struct v4l2_capability.
func parseCapability(b []byte) (capability, error) {
	if len(b) < capSize {
		return capability{}, fmt.Errorf("capture: v4l2_capability: %d bytes, want %d", len(b), capSize)
	}
	c := capability{Driver: cstr(b[0:16]), Card: cstr(b[16:48]), Bus: cstr(b[48:80])}
	caps, devCaps := ne.Uint32(b[84:88]), ne.Uint32(b[88:92])
	c.Caps = caps
	if caps&v4l2CapDeviceCaps != 0 {
		// A physical camera has several nodes (video, metadata); device_caps describes
		// this node, capabilities the whole device.
		c.Caps = devCaps
	}
	return c, nil
}

// fourCC renders a pixel format code; a big-endian variant gets "-BE", as v4l2-ctl
// writes it ("Y16-BE" for 'Y16 ' | 1<<31).
func fourCC(v uint32) string {
	s := strings.TrimRight(string([]byte{byte(v), byte(v >> 8), byte(v >> 16), byte(v>>24) &^ 0x80}), " \x00")
	if v&v4l2PixFmtBigEndian != 0 {
		s += "-BE"
	}
	return s
}

// ListDevices lists the V4L2 video capture devices under /sys/class/video4linux. Nodes
// that cannot capture video (metadata, output, radio) are left out. No cameras is an
// empty list, not an error.
func ListDevices() ([]Device, error) {
	return listDevices("/sys/class/video4linux", "/dev", openNode)
}

func listDevices(sysDir, devDir string, open func(path string) (ioctler, error)) ([]Device, error) {
	entries, err := os.ReadDir(sysDir)
	if errors.Is(err, os.ErrNotExist) {
		return []Device{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("capture: listing cameras: %w", err)
	}
	devs := []Device{}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "video") {
			continue
		}
		d := Device{Path: filepath.Join(devDir, e.Name())}
		if name, err := os.ReadFile(filepath.Join(sysDir, e.Name(), "name")); err == nil {
			d.Name = strings.TrimSpace(string(name))
		}
		node, err := open(d.Path)
		if err != nil {
			d.Err = fmt.Sprintf("cannot open %s: %v", d.Path, err)
			if errors.Is(err, os.ErrPermission) {
				d.Err += " (add the user to the video group)"
			}
			devs = append(devs, d)
			continue
		}
		ok, err := describe(node, &d)
		node.Close()
		if err != nil {
			d.Err = err.Error()
		}
		if ok || err != nil {
			devs = append(devs, d)
		}
	}
	sort.Slice(devs, func(i, j int) bool { return nodeNumber(devs[i].Path) < nodeNumber(devs[j].Path) })
	return devs, nil
}

func nodeNumber(path string) int {
	n, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(path), "video"))
	if err != nil {
		return 1 << 30
	}
	return n
}

// describe fills d from the node; ok is false for nodes that do not capture video.
func describe(node ioctler, d *Device) (ok bool, err error) {
	buf := make([]byte, capSize)
	if err := node.ioctl(vidiocQueryCap, buf); err != nil {
		return false, fmt.Errorf("VIDIOC_QUERYCAP on %s: %w", d.Path, err)
	}
	c, err := parseCapability(buf)
	if err != nil {
		return false, err
	}
	if c.Caps&(v4l2CapVideoCapture|v4l2CapVideoCaptureMplane) == 0 {
		return false, nil
	}
	if c.Card != "" {
		d.Name = c.Card
	}
	d.Driver, d.Bus = c.Driver, c.Bus
	for i := 0; i < maxFormats; i++ {
		b := make([]byte, fmtSize)
		ne.PutUint32(b[0:], uint32(i))
		ne.PutUint32(b[4:], v4l2BufTypeVideoCapture)
		if err := node.ioctl(vidiocEnumFmt, b); err != nil {
			break // EINVAL ends the list
		}
		pix := ne.Uint32(b[44:48])
		f := Format{FourCC: fourCC(pix), Description: cstr(b[12:44]), Compressed: ne.Uint32(b[8:12])&v4l2FmtFlagCompressed != 0}
		f.Sizes = frameSizes(node, pix)
		d.Formats = append(d.Formats, f)
	}
	d.Controls = controls(node)
	return true, nil
}

func ctrlType(t uint32) string {
	switch t {
	case v4l2CtrlTypeInteger:
		return "int"
	case v4l2CtrlTypeBoolean:
		return "bool"
	case v4l2CtrlTypeMenu:
		return "menu"
	}
	return "other"
}

// controls enumerates the node's controls with V4L2_CTRL_FLAG_NEXT_CTRL.
func controls(node ioctler) []ControlRange {
	var out []ControlRange
	id := uint32(0)
	for i := 0; i < 4*maxEnum; i++ {
		b := make([]byte, queryCtrlSize)
		ne.PutUint32(b[0:], id|v4l2CtrlFlagNextCtrl)
		if err := node.ioctl(vidiocQueryCtrl, b); err != nil {
			break // EINVAL: no more controls
		}
		next := ne.Uint32(b[0:]) &^ v4l2CtrlFlagNextCtrl
		if next <= id {
			break // a driver that does not advance would loop forever
		}
		id = next
		typ, flags := ne.Uint32(b[4:8]), ne.Uint32(b[60:64])
		if typ == v4l2CtrlTypeCtrlClass || flags&v4l2CtrlFlagDisabled != 0 {
			continue
		}
		out = append(out, ControlRange{
			Field:   controlFields[id],
			Name:    cstr(b[8:40]),
			Min:     int32(ne.Uint32(b[40:44])),
			Max:     int32(ne.Uint32(b[44:48])),
			Step:    int32(ne.Uint32(b[48:52])),
			Default: int32(ne.Uint32(b[52:56])),
			Type:    ctrlType(typ),
		})
	}
	return out
}

func frameSizes(node ioctler, pix uint32) []FrameSize {
	var out []FrameSize
	for i := 0; i < maxEnum; i++ {
		b := make([]byte, frmSizeSize)
		ne.PutUint32(b[0:], uint32(i))
		ne.PutUint32(b[4:], pix)
		if err := node.ioctl(vidiocEnumFrameSizes, b); err != nil {
			break
		}
		if ne.Uint32(b[8:12]) == v4l2FrmDiscrete {
			w, h := int(ne.Uint32(b[12:16])), int(ne.Uint32(b[16:20]))
			out = append(out, FrameSize{Width: w, Height: h, FPS: frameRates(node, pix, w, h)})
			continue
		}
		// Stepwise/continuous: min_width, max_width, step_width, min_height, max_height.
		minW, maxW := int(ne.Uint32(b[12:16])), int(ne.Uint32(b[16:20]))
		minH, maxH := int(ne.Uint32(b[24:28])), int(ne.Uint32(b[28:32]))
		out = append(out,
			FrameSize{Width: minW, Height: minH, Range: true, FPS: frameRates(node, pix, minW, minH)},
			FrameSize{Width: maxW, Height: maxH, Range: true, FPS: frameRates(node, pix, maxW, maxH)})
		break
	}
	return out
}

// frameRates lists the rates for one size; a stepwise range gives its fastest and
// slowest rate.
func frameRates(node ioctler, pix uint32, w, h int) []float64 {
	var out []float64
	rate := func(num, den uint32) {
		if num > 0 && den > 0 {
			out = append(out, float64(den)/float64(num))
		}
	}
	for i := 0; i < maxEnum; i++ {
		b := make([]byte, frmIvalSize)
		ne.PutUint32(b[0:], uint32(i))
		ne.PutUint32(b[4:], pix)
		ne.PutUint32(b[8:], uint32(w))
		ne.PutUint32(b[12:], uint32(h))
		if err := node.ioctl(vidiocEnumFrameIntervals, b); err != nil {
			break
		}
		if ne.Uint32(b[16:20]) == v4l2FrmDiscrete {
			rate(ne.Uint32(b[20:24]), ne.Uint32(b[24:28]))
			continue
		}
		// Stepwise: min interval (fastest) then max interval (slowest).
		rate(ne.Uint32(b[20:24]), ne.Uint32(b[24:28]))
		rate(ne.Uint32(b[28:32]), ne.Uint32(b[32:36]))
		break
	}
	return out
}
