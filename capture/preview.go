package capture

import (
	"fmt"
	"image"

	"gocv.io/x/gocv"
)

// PreviewImage downscales an 8-bit BGR frame to fit within maxW x maxH (keeping its
// aspect ratio, never enlarging) and converts it to RGBA for display. It reuses dst's
// pixels when dst already has the right size, so a live preview allocates nothing per
// frame; pass nil the first time. img is only read: the caller still owns it.
func PreviewImage(img gocv.Mat, maxW, maxH int, dst *image.RGBA) (*image.RGBA, error) {
	if img.Empty() || img.Type() != gocv.MatTypeCV8UC3 {
		return nil, fmt.Errorf("%w: preview needs a non-empty 8-bit BGR image", ErrBadImage)
	}
	if maxW < 1 || maxH < 1 {
		return nil, fmt.Errorf("capture: preview size %dx%d", maxW, maxH)
	}
	w, h := img.Cols(), img.Rows()
	if w > maxW || h > maxH {
		// Fit inside the box: scale by the tighter of the two ratios.
		if w*maxH > h*maxW {
			w, h = maxW, max(1, h*maxW/w)
		} else {
			w, h = max(1, w*maxH/h), maxH
		}
	}
	small := gocv.NewMat()
	defer small.Close()
	src := img
	if w != img.Cols() || h != img.Rows() {
		// Area averaging avoids the shimmer a nearest/linear shrink shows on textures.
		gocv.Resize(img, &small, image.Pt(w, h), 0, 0, gocv.InterpolationArea)
		src = small
	}
	rgba := gocv.NewMat()
	defer rgba.Close()
	gocv.CvtColor(src, &rgba, gocv.ColorBGRToRGBA)
	if dst == nil || dst.Rect.Dx() != w || dst.Rect.Dy() != h || dst.Stride != 4*w {
		dst = image.NewRGBA(image.Rect(0, 0, w, h))
	}
	px, err := rgba.DataPtrUint8()
	if err != nil {
		return nil, fmt.Errorf("capture: preview: %w", err)
	}
	copy(dst.Pix, px)
	return dst, nil
}
