package biometrics

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"

	"gocv.io/x/gocv"
)

// Limits on decoded images. They are checked from the header before any pixel is
// decoded, so a hostile 20000x20000 header costs nothing.
const (
	MaxImageSide   = 12000
	MaxImagePixels = 50_000_000
)

var (
	// ErrNotImage means the bytes are not a JPEG or PNG image.
	ErrNotImage = errors.New("not a JPEG or PNG image")
	// ErrImageEmpty means the image has no pixels (0 width or height).
	ErrImageEmpty = errors.New("image has no pixels")
	// ErrImageTooLarge means the image header declares more pixels than we decode.
	ErrImageTooLarge = errors.New("image too large")
	// ErrCorruptImage means the image header is fine but the data is damaged or truncated.
	ErrCorruptImage = errors.New("image data corrupt or truncated")
)

// ImageError is returned by DecodeImage; it wraps one of ErrNotImage, ErrImageEmpty,
// ErrImageTooLarge or ErrCorruptImage.
type ImageError struct {
	Format        string // "jpeg", "png" or "" when unknown
	Width, Height int    // from the header, when it could be read
	Err           error
	Detail        error // the decoder's own error, if any
}

func (e *ImageError) Error() string {
	msg := "biometrics: decoding image: " + e.Err.Error()
	if e.Width > 0 || e.Height > 0 {
		msg += fmt.Sprintf(" (%s %dx%d)", e.Format, e.Width, e.Height)
	}
	if errors.Is(e.Err, ErrImageTooLarge) {
		msg += fmt.Sprintf("; at most %d px a side and %d MP", MaxImageSide, MaxImagePixels/1_000_000)
	}
	if e.Detail != nil {
		msg += ": " + e.Detail.Error()
	}
	return msg
}

func (e *ImageError) Unwrap() error { return e.Err }

// DecodeImage decodes JPEG or PNG bytes (colour, grayscale, with or without alpha) into a
// new 8-bit BGR Mat owned by the caller. It reads the header first and refuses empty or
// oversized images before allocating. EXIF orientation is not applied.
func DecodeImage(data []byte) (gocv.Mat, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		if errors.Is(err, image.ErrFormat) || len(data) < 8 {
			return gocv.Mat{}, &ImageError{Err: ErrNotImage}
		}
		// Go's PNG reader rejects a zero dimension as a format error; say what it is.
		if len(data) >= 24 && string(data[:8]) == "\x89PNG\r\n\x1a\n" && string(data[12:16]) == "IHDR" &&
			(binary.BigEndian.Uint32(data[16:]) == 0 || binary.BigEndian.Uint32(data[20:]) == 0) {
			return gocv.Mat{}, &ImageError{Format: "png", Err: ErrImageEmpty}
		}
		return gocv.Mat{}, &ImageError{Format: format, Err: ErrCorruptImage, Detail: err}
	}
	ie := &ImageError{Format: format, Width: cfg.Width, Height: cfg.Height}
	switch {
	case format != "jpeg" && format != "png":
		ie.Err = ErrNotImage
		return gocv.Mat{}, ie
	case cfg.Width <= 0 || cfg.Height <= 0:
		ie.Err = ErrImageEmpty
		return gocv.Mat{}, ie
	case cfg.Width > MaxImageSide || cfg.Height > MaxImageSide || cfg.Width*cfg.Height > MaxImagePixels:
		ie.Err = ErrImageTooLarge
		return gocv.Mat{}, ie
	}
	var img image.Image
	if format == "jpeg" {
		img, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		img, err = png.Decode(bytes.NewReader(data))
	}
	if err != nil {
		if err == io.EOF {
			err = io.ErrUnexpectedEOF
		}
		ie.Err, ie.Detail = ErrCorruptImage, err
		return gocv.Mat{}, ie
	}
	return MatFromImage(img)
}

// MatFromImage copies img into a new 8-bit BGR Mat owned by the caller. Alpha is ignored.
func MatFromImage(img image.Image) (gocv.Mat, error) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if w <= 0 || h <= 0 {
		return gocv.Mat{}, &ImageError{Err: ErrImageEmpty}
	}
	if w > MaxImageSide || h > MaxImageSide || w*h > MaxImagePixels {
		return gocv.Mat{}, &ImageError{Width: w, Height: h, Err: ErrImageTooLarge}
	}
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	dst, err := m.DataPtrUint8()
	if err != nil {
		m.Close()
		return gocv.Mat{}, fmt.Errorf("biometrics: image to Mat: %w", err)
	}
	switch src := img.(type) {
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			row := dst[y*w*3:]
			for x := 0; x < w; x++ {
				yi := src.YOffset(b.Min.X+x, b.Min.Y+y)
				ci := src.COffset(b.Min.X+x, b.Min.Y+y)
				r, g, bb := color.YCbCrToRGB(src.Y[yi], src.Cb[ci], src.Cr[ci])
				row[3*x], row[3*x+1], row[3*x+2] = bb, g, r
			}
		}
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := dst[y*w*3:]
			s := src.Pix[(y)*src.Stride:]
			for x := 0; x < w; x++ {
				v := s[x]
				row[3*x], row[3*x+1], row[3*x+2] = v, v, v
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := dst[y*w*3:]
			s := src.Pix[y*src.Stride:]
			for x := 0; x < w; x++ {
				row[3*x], row[3*x+1], row[3*x+2] = s[4*x+2], s[4*x+1], s[4*x]
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			row := dst[y*w*3:]
			s := src.Pix[y*src.Stride:]
			for x := 0; x < w; x++ {
				row[3*x], row[3*x+1], row[3*x+2] = s[4*x+2], s[4*x+1], s[4*x]
			}
		}
	default:
		for y := 0; y < h; y++ {
			row := dst[y*w*3:]
			for x := 0; x < w; x++ {
				r, g, bb, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				row[3*x], row[3*x+1], row[3*x+2] = uint8(bb>>8), uint8(g>>8), uint8(r>>8)
			}
		}
	}
	return m, nil
}

// toBGR returns a new 8-bit 3-channel copy of m (grey and BGRA converted).
func toBGR(m gocv.Mat) (gocv.Mat, error) {
	if m.Empty() || m.Cols() <= 0 || m.Rows() <= 0 {
		return gocv.Mat{}, &ImageError{Err: ErrImageEmpty}
	}
	if m.Type() != gocv.MatTypeCV8UC1 && m.Type() != gocv.MatTypeCV8UC3 && m.Type() != gocv.MatTypeCV8UC4 {
		return gocv.Mat{}, fmt.Errorf("biometrics: unsupported Mat type %v: want 8-bit grey, BGR or BGRA", m.Type())
	}
	out := gocv.NewMat()
	switch m.Channels() {
	case 1:
		gocv.CvtColor(m, &out, gocv.ColorGrayToBGR)
	case 4:
		gocv.CvtColor(m, &out, gocv.ColorBGRAToBGR)
	default:
		m.CopyTo(&out)
	}
	return out, nil
}

// EncodeJPEG encodes an 8-bit BGR (or grey) Mat as JPEG at the given quality (1–100).
func EncodeJPEG(m gocv.Mat, quality int) ([]byte, error) {
	buf, err := gocv.IMEncodeWithParams(gocv.JPEGFileExt, m, []int{gocv.IMWriteJpegQuality, quality})
	if err != nil {
		return nil, fmt.Errorf("biometrics: encoding JPEG: %w", err)
	}
	defer buf.Close()
	return bytes.Clone(buf.GetBytes()), nil
}

// EncodePNG encodes an 8-bit BGR (or grey) Mat as lossless PNG.
func EncodePNG(m gocv.Mat) ([]byte, error) {
	buf, err := gocv.IMEncode(gocv.PNGFileExt, m)
	if err != nil {
		return nil, fmt.Errorf("biometrics: encoding PNG: %w", err)
	}
	defer buf.Close()
	return bytes.Clone(buf.GetBytes()), nil
}

var colorBlack = color.RGBA{A: 255}

func imagePt(x, y int) image.Point { return image.Pt(x, y) }
