package exporter

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every error from [Open] wraps exactly one of them, usually inside a typed
// error that names the part that failed.
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

// NoSpaceError means a target medium has too little free space for a bundle. It wraps
// ErrNotDelivered.
type NoSpaceError struct {
	Dir        string
	Free, Need uint64 // bytes
}

func (e *NoSpaceError) Error() string {
	return fmt.Sprintf("exporter: %s has %.1f MB free but the bundle needs %.1f MB: use a larger medium or free space on it: %v",
		e.Dir, float64(e.Free)/1e6, float64(e.Need)/1e6, ErrNotDelivered)
}

func (e *NoSpaceError) Unwrap() error { return ErrNotDelivered }

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

// SchemaError says which record's identity data failed schema validation. It wraps ErrSchema.
type SchemaError struct {
	EnrollmentID string
	Detail       string
}

func (e *SchemaError) Error() string {
	if e.EnrollmentID == "" {
		return fmt.Sprintf("exporter: identity data does not match the schema: %s", e.Detail)
	}
	return fmt.Sprintf("exporter: record %s: identity data does not match the schema: %s", e.EnrollmentID, e.Detail)
}

func (e *SchemaError) Is(target error) bool { return target == ErrSchema }

// MissingRecordError names records the batch lists but the bundle lacks. It wraps ErrMissingRecord.
type MissingRecordError struct {
	EnrollmentIDs []string
}

func (e *MissingRecordError) Error() string {
	return fmt.Sprintf("exporter: record(s) %v listed in the batch are missing from the bundle", e.EnrollmentIDs)
}

func (e *MissingRecordError) Is(target error) bool { return target == ErrMissingRecord }

// malformed wraps ErrMalformed with what was being read.
func malformed(format string, args ...any) error {
	return fmt.Errorf("exporter: %s: %w", fmt.Sprintf(format, args...), ErrMalformed)
}
