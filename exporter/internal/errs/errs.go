// Package errs holds the exporter's sentinel errors and the typed errors its framing
// packages return, so that exporter/internal/format and exporter/internal/stream fail
// with the same errors exporter.Open documents (exporter re-exports them).
package errs

import (
	"errors"
	"fmt"
	"io"
)

// Sentinel errors (exporter.ErrMalformed and so on are these).
var (
	ErrMalformed     = errors.New("malformed bundle")
	ErrUnsupported   = errors.New("unsupported bundle format or algorithm")
	ErrTooLarge      = errors.New("bundle exceeds a size limit")
	ErrBadSignature  = errors.New("bad signature")
	ErrTampered      = errors.New("content does not match what was signed")
	ErrTruncated     = errors.New("bundle is truncated")
	ErrWrongIssuer   = errors.New("bundle is encrypted to a different issuer key")
	ErrWrongStation  = errors.New("bundle is from a different station")
	ErrReplay        = errors.New("bundle sequence number already seen")
	ErrChain         = errors.New("bundle does not follow the previous bundle")
	ErrMissingRecord = errors.New("record missing from bundle")
	ErrSchema        = errors.New("identity data does not match the schema")
	ErrBadKey        = errors.New("bad key")
	ErrNotDelivered  = errors.New("bundle not delivered")
)

// TamperedError names the part whose bytes do not match their signed hash or fail
// authenticated decryption. It wraps ErrTampered.
type TamperedError struct {
	Member string // e.g. "records/E-1/portrait.jpg", "ciphertext chunk 3", "ciphertext"
	Reason string
}

func (e *TamperedError) Error() string {
	return fmt.Sprintf("exporter: %s tampered: %s", e.Member, e.Reason)
}

func (e *TamperedError) Is(target error) bool { return target == ErrTampered }

// SignatureError says which signature did not verify. It wraps ErrBadSignature.
type SignatureError struct {
	What string // "outer header", "trailer", "manifest", "approval of record ID", ...
	Err  error  // underlying verifier error, may be nil
}

func (e *SignatureError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("exporter: bad signature on %s: %v", e.What, e.Err)
	}
	return fmt.Sprintf("exporter: bad signature on %s", e.What)
}

func (e *SignatureError) Unwrap() []error { return []error{ErrBadSignature, e.Err} }

// Malformed wraps ErrMalformed with what was being read.
func Malformed(format string, args ...any) error {
	return fmt.Errorf("exporter: %s: %w", fmt.Sprintf(format, args...), ErrMalformed)
}

// ReadFull reads outside the encrypted payload; running out of input means truncation.
func ReadFull(r io.Reader, b []byte, what string) error {
	if _, err := io.ReadFull(r, b); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return fmt.Errorf("exporter: bundle ends inside the %s: %w", what, ErrTruncated)
		}
		return fmt.Errorf("exporter: reading %s: %w", what, err)
	}
	return nil
}
