package capture

import (
	"context"
	"image"
	"image/color"
	"math"
	"strconv"

	"gocv.io/x/gocv"
)

// synthetic draws a deterministic moving pattern: frame n depends only on n, the size
// and nothing else, so tests can reason about its content.
type synthetic struct {
	info   Info
	bg     gocv.Mat // colour gradient with a fixed checkerboard, drawn once
	n      int
	pace   *pacer
	closed bool
}

func newSynthetic(s Spec, opts Options) *synthetic {
	w, h := s.Width, s.Height
	buf := make([]byte, w*h*3)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			i := (y*w + x) * 3
			buf[i] = byte(255 * x / w)            // B
			buf[i+1] = byte(255 * y / h)          // G
			buf[i+2] = byte(128 + 64*(x+y)/(w+h)) // R
			// A checkerboard in the top-left quarter gives the sharpness measure edges.
			if x < w/4 && y < h/4 {
				c := byte(40)
				if (x/8+y/8)%2 == 0 {
					c = 215
				}
				buf[i], buf[i+1], buf[i+2] = c, c, c
			}
		}
	}
	bg, err := gocv.NewMatFromBytes(h, w, gocv.MatTypeCV8UC3, buf)
	if err != nil {
		// Only reachable with inconsistent sizes, which ParseSpec rules out.
		panic("capture: synthetic background: " + err.Error())
	}
	src := &synthetic{
		bg: bg,
		info: Info{
			Spec: s.Original, Kind: KindSynthetic, Width: w, Height: h, FPS: s.FPS,
			FourCC: "BGR3", Backend: "synthetic", Paced: !opts.Fast,
		},
	}
	if !opts.Fast {
		src.pace = newPacer(s.FPS)
	}
	return src
}

func (s *synthetic) Info() Info { return s.info }

func (s *synthetic) Read(ctx context.Context, dst *gocv.Mat) error {
	if s.closed {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	drawSynthetic(s.bg, dst, s.n)
	s.n++
	if s.pace != nil {
		return s.pace.wait(ctx)
	}
	return nil
}

func drawSynthetic(bg gocv.Mat, dst *gocv.Mat, n int) {
	bg.CopyTo(dst)
	w, h := bg.Cols(), bg.Rows()
	t := float64(n) / 30
	r := min(w, h) / 8
	cx := w/2 + int(float64(w/2-r)*math.Sin(t*1.3))
	cy := h/2 + int(float64(h/2-r)*math.Sin(t*0.9+1))
	gocv.Circle(dst, image.Pt(cx, cy), r, color.RGBA{R: 240, G: 240, B: 240, A: 255}, -1)
	bx := (n * 7) % w
	gocv.Rectangle(dst, image.Rect(bx, h-h/10, bx+w/20+1, h), color.RGBA{R: 20, G: 20, B: 200, A: 255}, -1)
	gocv.PutText(dst, strconv.Itoa(n), image.Pt(w/2, h/6), gocv.FontHersheySimplex, float64(h)/400, color.RGBA{A: 255}, max(1, h/240))
}

func (s *synthetic) Close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	return s.bg.Close()
}
