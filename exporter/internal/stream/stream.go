// Package stream is the bundle's encrypted payload framing (docs/bundle-format.md,
// "Ciphertext"): the plaintext cut into 64 KiB chunks, each sealed with the bundle's HPKE
// context under AAD = SHA-256(signed header) || final flag, then the length-prefixed
// signed trailer. Writer seals; Start reads and hashes the ciphertext and trailer on a
// goroutine and Reader opens the chunks, so SHA-256 and AES-GCM use two cores.
package stream

import (
	"crypto/hpke"
	"encoding/binary"
	"fmt"
	"hash"
	"io"

	"enrollstation/exporter/internal/errs"
)

const (
	ChunkSize = 64 << 10 // plaintext bytes per sealed chunk (the last may be shorter)
	TagSize   = 16       // AES-256-GCM tag
)

// SealedLength is the ciphertext length for a plaintext of n bytes.
func SealedLength(n int64) int64 {
	chunks := (n + ChunkSize - 1) / ChunkSize
	if chunks == 0 {
		chunks = 1
	}
	return n + chunks*TagSize
}

// AAD is the associated data of every chunk: the header's hash and whether the chunk is
// the last, so that dropping trailing chunks fails authentication.
func AAD(headerHash [32]byte, final bool) []byte {
	aad := make([]byte, 33)
	copy(aad, headerHash[:])
	if final {
		aad[32] = 1
	}
	return aad
}

// NewWriter returns a Writer sealing into out, which takes ownership of each sealed chunk.
func NewWriter(sender *hpke.Sender, headerHash [32]byte, out io.Writer) *Writer {
	return &Writer{sender: sender, headerHash: headerHash, out: out, buf: make([]byte, 0, ChunkSize)}
}

// Plain and Sealed are the bytes taken and written so far; Err is the first sealing or
// writing error (later writes are dropped).
func (c *Writer) Plain() int64  { return c.plain }
func (c *Writer) Sealed() int64 { return c.sealed }
func (c *Writer) Err() error    { return c.err }

// Count counts the bytes read through it.
type Count struct {
	R io.Reader
	N int64
}

func (c *Count) Read(p []byte) (int, error) {
	n, err := c.R.Read(p)
	c.N += int64(n)
	return n, err
}

// Writer seals the payload in ChunkSize pieces. A full buffer is sealed as non-final
// only once more data arrives, so the last chunk is always sealed by Close with the final flag.
type Writer struct {
	sender     *hpke.Sender
	headerHash [32]byte
	out        io.Writer // takes ownership of each sealed chunk
	buf        []byte
	plain      int64
	sealed     int64
	closed     bool
	err        error // first sealing error; later writes are dropped
}

func (c *Writer) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && c.err == nil {
		if len(c.buf) == ChunkSize {
			c.err = c.seal(false)
			continue
		}
		k := copy(c.buf[len(c.buf):ChunkSize], p)
		c.buf = c.buf[:len(c.buf)+k]
		p = p[k:]
		c.plain += int64(k)
	}
	return n, nil
}

func (c *Writer) seal(final bool) error {
	ct, err := c.sender.Seal(AAD(c.headerHash, final), c.buf)
	if err != nil {
		return fmt.Errorf("exporter: build: sealing chunk: %w", err)
	}
	if _, err := c.out.Write(ct); err != nil {
		return fmt.Errorf("exporter: build: writing: %w", err)
	}
	c.sealed += int64(len(ct))
	c.buf = c.buf[:0]
	return nil
}

func (c *Writer) Close() error {
	if c.closed || c.err != nil {
		return c.err
	}
	c.closed = true
	c.err = c.seal(true)
	return c.err
}

// Reading is the reader goroutine of Start.
type Reading struct {
	chunks chan sealedChunk
	free   chan []byte // buffers handed back for reuse
	tail   chan Tail
	quit   chan struct{}
	done   chan struct{}
}

type sealedChunk struct {
	ct  []byte
	err error
}

// Tail is what follows the ciphertext: the signed trailer and the hashes.
type Tail struct {
	Trailer  []byte
	BodyHash []byte // SHA-256 of everything before the trailer length
	FileHash []byte
	Size     int64
	Extra    bool // bytes follow the trailer
	Err      error
}

// Start reads, on its own goroutine, the ciphertext of the given length from in in
// chunk-sized pieces and then the length-prefixed trailer (at most maxTrailer bytes),
// hashing every byte read into fh (in must feed fh). Stop it with Stop after an error.
func Start(in *Count, fh hash.Hash, remaining int64, maxTrailer uint32) *Reading {
	c := &Reading{chunks: make(chan sealedChunk, 4), free: make(chan []byte, 6),
		tail: make(chan Tail, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		send := func(sc sealedChunk) bool {
			select {
			case c.chunks <- sc:
				return true
			case <-c.quit:
				return false
			}
		}
		for index := 0; remaining > 0; index++ {
			size := min(int64(ChunkSize+TagSize), remaining)
			var buf []byte
			select {
			case buf = <-c.free:
			default:
				buf = make([]byte, ChunkSize+TagSize)
			}
			ct := buf[:size]
			if err := errs.ReadFull(in, ct, fmt.Sprintf("ciphertext chunk %d", index)); err != nil {
				send(sealedChunk{err: err})
				return
			}
			if !send(sealedChunk{ct: ct}) {
				return
			}
			remaining -= size
		}
		close(c.chunks)
		t := Tail{BodyHash: fh.Sum(nil)}
		var lenb [4]byte
		if t.Err = errs.ReadFull(in, lenb[:], "trailer length"); t.Err == nil {
			tl := binary.BigEndian.Uint32(lenb[:])
			if tl == 0 || tl > maxTrailer {
				t.Err = fmt.Errorf("exporter: trailer length %d (limit %d): %w", tl, maxTrailer, errs.ErrTooLarge)
			} else {
				t.Trailer = make([]byte, tl)
				t.Err = errs.ReadFull(in, t.Trailer, "trailer")
			}
		}
		t.FileHash = fh.Sum(nil)
		t.Size = in.N
		if t.Err == nil {
			var one [1]byte
			n, _ := io.ReadFull(in, one[:])
			t.Extra = n != 0
		}
		c.tail <- t
	}()
	return c
}

// Tail waits for the ciphertext to be read and returns what follows it.
func (c *Reading) Tail() Tail { return <-c.tail }

// Stop ends the goroutine early (after an error) and waits for it.
func (c *Reading) Stop() {
	close(c.quit)
	<-c.done
}

// NewReader opens the chunks src reads with rcp; remaining is the ciphertext length.
func NewReader(src *Reading, rcp *hpke.Recipient, headerHash [32]byte, remaining int64) *Reader {
	return &Reader{src: src, rcp: rcp, headerHash: headerHash, remaining: remaining}
}

// Reader opens the sealed chunks, serving the plaintext. It stops with io.EOF after
// the final chunk, whose position the (signed) header fixes.
type Reader struct {
	src        *Reading
	rcp        *hpke.Recipient
	headerHash [32]byte
	remaining  int64 // ciphertext bytes still to open
	index      int
	buf        []byte // unread plaintext
	err        error
}

func (c *Reader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.err != nil {
			return 0, c.err
		}
		c.err = c.next()
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

func (c *Reader) next() error {
	if c.remaining == 0 {
		return io.EOF
	}
	sc, ok := <-c.src.chunks
	if !ok {
		return fmt.Errorf("exporter: internal error: ciphertext ended early")
	}
	if sc.err != nil {
		return sc.err
	}
	final := c.remaining == int64(len(sc.ct))
	pt, err := c.rcp.Open(AAD(c.headerHash, final), sc.ct)
	c.remaining -= int64(len(sc.ct))
	select {
	case c.src.free <- sc.ct[:cap(sc.ct)]:
	default:
	}
	if err != nil {
		return &errs.TamperedError{Member: fmt.Sprintf("ciphertext chunk %d", c.index), Reason: "authenticated decryption failed"}
	}
	c.index++
	c.buf = pt
	if len(pt) == 0 && !final {
		return errs.Malformed("empty ciphertext chunk %d", c.index-1)
	}
	return nil
}

// Err is the error that ended reading: io.EOF after the final chunk, nil before.
func (c *Reader) Err() error { return c.err }
