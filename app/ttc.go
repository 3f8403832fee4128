package app

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/image/font/sfnt"
)

// fontFromCollection returns, as a stand-alone OpenType font, the face of a TrueType/
// OpenType collection (.ttc) whose family name contains family. Fyne loads single fonts
// only, and Debian's bold CJK face (fonts-noto-cjk's NotoSansCJK-Bold.ttc) comes as a
// collection. The face's tables are copied into a file of their own (OpenType spec,
// "Font Collections"); the tables' checksums stay as they were, which readers ignore.
func fontFromCollection(ttc []byte, family string) ([]byte, error) {
	coll, err := sfnt.ParseCollection(ttc)
	if err != nil {
		return nil, err
	}
	var buf sfnt.Buffer
	index := -1
	for i := 0; i < coll.NumFonts() && index < 0; i++ {
		f, err := coll.Font(i)
		if err != nil {
			continue
		}
		if name, err := f.Name(&buf, sfnt.NameIDFamily); err == nil && strings.Contains(name, family) {
			index = i
		}
	}
	if index < 0 {
		return nil, fmt.Errorf("no %q face in the collection", family)
	}
	be := binary.BigEndian
	if len(ttc) < 12+4*(index+1) || string(ttc[:4]) != "ttcf" {
		return nil, errors.New("not a font collection")
	}
	off := int(be.Uint32(ttc[12+4*index:]))
	if off+12 > len(ttc) {
		return nil, errors.New("font collection: bad offset")
	}
	n := int(be.Uint16(ttc[off+4:]))
	if off+12+16*n > len(ttc) {
		return nil, errors.New("font collection: bad table directory")
	}
	head := 12 + 16*n
	out := make([]byte, head, head+len(ttc)/4)
	copy(out, ttc[off:off+12])
	for i := 0; i < n; i++ {
		rec := ttc[off+12+16*i : off+12+16*(i+1)]
		tOff, tLen := int(be.Uint32(rec[8:])), int(be.Uint32(rec[12:]))
		if tOff+tLen > len(ttc) {
			return nil, errors.New("font collection: table out of range")
		}
		dst := out[12+16*i : 12+16*(i+1)]
		copy(dst, rec[:8])
		be.PutUint32(dst[8:], uint32(len(out)))
		be.PutUint32(dst[12:], uint32(tLen))
		out = append(out, ttc[tOff:tOff+tLen]...)
		for len(out)%4 != 0 {
			out = append(out, 0)
		}
	}
	return out, nil
}
