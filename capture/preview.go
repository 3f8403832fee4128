package capture

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// Previewer downscales camera frames for display. It is the one preview downscale of
// the station (the clerk's capture step and the technician's bench both use it): the
// fitted size keeps the aspect ratio and never enlarges, area averaging avoids the
// shimmer a nearest/linear shrink shows on textures, and its Mats are reused, so a live
// preview allocates no Mat per frame. The zero value is ready; Close it when done. A
// Previewer belongs to one goroutine.
type Previewer struct {
	small, rgba gocv.Mat
	ok          bool
	dst         *image.RGBA
}

func (p *Previewer) init() {
	if !p.ok {
		p.small, p.rgba, p.ok = gocv.NewMat(), gocv.NewMat(), true
	}
}

// Close releases the Previewer's Mats.
func (p *Previewer) Close() {
	if p.ok {
		p.small.Close()
		p.rgba.Close()
		p.ok = false
	}
}

// Scale downscales an 8-bit BGR frame to fit within maxW x maxH into the Previewer's
// own BGR Mat and returns it: the caller may draw on it (face boxes) before RGBA, and
// must not keep it past the next call. img is only read: the caller still owns it.
func (p *Previewer) Scale(img gocv.Mat, maxW, maxH int) (*gocv.Mat, error) {
	if img.Empty() || img.Type() != gocv.MatTypeCV8UC3 {
		return nil, fmt.Errorf("%w: preview needs a non-empty 8-bit BGR image", ErrBadImage)
	}
	if maxW < 1 || maxH < 1 {
		return nil, fmt.Errorf("capture: preview size %dx%d", maxW, maxH)
	}
	p.init()
	w, h := FitSize(img.Cols(), img.Rows(), maxW, maxH)
	if w != img.Cols() || h != img.Rows() {
		gocv.Resize(img, &p.small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
	} else {
		img.CopyTo(&p.small)
	}
	return &p.small, nil
}

// RGBA converts the last scaled frame to RGBA, into dst's pixels when dst already has
// the right size (pass nil for a new image the receiver may keep).
func (p *Previewer) RGBA(dst *image.RGBA) (*image.RGBA, error) {
	if !p.ok || p.small.Empty() {
		return nil, fmt.Errorf("%w: nothing scaled to convert", ErrBadImage)
	}
	gocv.CvtColor(p.small, &p.rgba, gocv.ColorBGRToRGBA)
	w, h := p.small.Cols(), p.small.Rows()
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h || dst.Stride != 4*w {
		dst = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	px, err := p.rgba.DataPtrUint8()
	if err != nil {
		return nil, fmt.Errorf("capture: preview: %w", err)
	}
	copy(dst.Pix, px)
	return dst, nil
}

// FitSize is the size w x h scaled to fit within maxW x maxH, keeping the aspect ratio
// and never enlarging.
func FitSize(w, h, maxW, maxH int) (int, int) {
	if w > maxW || h > maxH {
		// Fit inside the box: scale by the tighter of the two ratios.
		if w*maxH > h*maxW {
			return maxW, max(1, h*maxW/max(1, w))
		}
		return max(1, w*maxH/max(1, h)), maxH
	}
	return w, h
}

// PreviewImage downscales an 8-bit BGR frame to fit within maxW x maxH (keeping its
// aspect ratio, never enlarging) and converts it to RGBA for display. It reuses dst's
// pixels when dst already has the right size; pass nil the first time. img is only
// read: the caller still owns it. A loop should keep a Previewer instead (no Mats per
// call).
func PreviewImage(img gocv.Mat, maxW, maxH int, dst *image.RGBA) (*image.RGBA, error) {
	var p Previewer
	defer p.Close()
	if _, err := p.Scale(img, maxW, maxH); err != nil {
		return nil, err
	}
	return p.RGBA(dst)
}
