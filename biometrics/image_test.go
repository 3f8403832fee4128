package biometrics

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/png"
	"testing"
)

// pngHeader returns the signature and IHDR chunk of a w x h RGB PNG, without pixel data.
func pngHeader(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// jpegWithSize patches the SOF0 frame size of a valid JPEG.
func jpegWithSize(t testing.TB, jpg []byte, w, h uint16) []byte {
	t.Helper()
	out := bytes.Clone(jpg)
	for i := 2; i+9 < len(out); {
		if out[i] != 0xFF {
			t.Fatal("bad JPEG marker walk")
		}
		marker := out[i+1]
		n := int(binary.BigEndian.Uint16(out[i+2:]))
		if marker == 0xC0 || marker == 0xC2 {
			binary.BigEndian.PutUint16(out[i+5:], h)
			binary.BigEndian.PutUint16(out[i+7:], w)
			return out
		}
		i += 2 + n
	}
	t.Fatal("no SOF marker")
	return nil
}

func TestDecodeImageBadInputs(t *testing.T) {
	bona := readFace(t, "bona.jpg")
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrNotImage},
		{"text", []byte("hello, this is not an image at all"), ErrNotImage},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), ErrNotImage},
		{"truncated JPEG", bona[:len(bona)/2], ErrCorruptImage},
		{"JPEG header only", bona[:600], ErrCorruptImage},
		{"PNG 0x0", pngHeader(0, 0), ErrImageEmpty},
		{"PNG 20000x20000", pngHeader(20000, 20000), ErrImageTooLarge},
		{"JPEG 20000x20000", jpegWithSize(t, bona, 20000, 20000), ErrImageTooLarge},
		{"JPEG 0x0", jpegWithSize(t, bona, 0, 0), ErrImageEmpty},
		{"PNG header only", pngHeader(640, 480), ErrCorruptImage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := DecodeImage(tc.data)
			if err == nil {
				m.Close()
				t.Fatalf("no error, want %v", tc.want)
			}
			var ie *ImageError
			if !errors.Is(err, tc.want) || !errors.As(err, &ie) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			// The recognizer refuses the same inputs with the same typed errors.
			if faces, err := recognizer(t).Recognize(tc.data); !errors.Is(err, tc.want) {
				t.Fatalf("Recognize: got %d faces, %v; want %v", len(faces), err, tc.want)
			}
		})
	}
}

func TestDecodeImageFormats(t *testing.T) {
	grey := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range grey.Pix {
		grey.Pix[i] = uint8(i)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, grey); err != nil {
		t.Fatal(err)
	}
	m, err := DecodeImage(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.Cols() != 40 || m.Rows() != 30 || m.Channels() != 3 {
		t.Fatalf("grey PNG decoded to %dx%d with %d channels", m.Cols(), m.Rows(), m.Channels())
	}
	if v := m.GetVecbAt(1, 5); v[0] != 45 || v[1] != 45 || v[2] != 45 {
		t.Fatalf("pixel (5,1) = %v, want 45,45,45", v)
	}
}

// FuzzDecodeImage: any bytes give a Mat or one of the typed errors, never a crash or a
// huge allocation.
func FuzzDecodeImage(f *testing.F) {
	f.Add([]byte{})
	f.Add(pngHeader(3, 2))
	f.Add(pngHeader(60000, 1))
	var buf bytes.Buffer
	img := image.NewNRGBA(image.Rect(0, 0, 8, 8))
	png.Encode(&buf, img)
	f.Add(buf.Bytes())
	f.Add([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := DecodeImage(data)
		if err != nil {
			var ie *ImageError
			if !errors.As(err, &ie) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		defer m.Close()
		if m.Cols() <= 0 || m.Rows() <= 0 || m.Channels() != 3 {
			t.Fatalf("decoded %dx%d with %d channels", m.Cols(), m.Rows(), m.Channels())
		}
	})
}
