package exporter

import (
	"fmt"

	"enrollstation/exporter/internal/errs"
)

// Sentinel errors. Every error from [Open] wraps exactly one of them, usually inside a typed
// error that names the part that failed. (They are defined in exporter/internal/errs, so
// that the framing packages return them too.)
var (
	ErrMalformed     = errs.ErrMalformed
	ErrUnsupported   = errs.ErrUnsupported
	ErrTooLarge      = errs.ErrTooLarge
	ErrBadSignature  = errs.ErrBadSignature
	ErrTampered      = errs.ErrTampered
	ErrTruncated     = errs.ErrTruncated
	ErrWrongIssuer   = errs.ErrWrongIssuer
	ErrWrongStation  = errs.ErrWrongStation
	ErrReplay        = errs.ErrReplay
	ErrChain         = errs.ErrChain
	ErrMissingRecord = errs.ErrMissingRecord
	ErrSchema        = errs.ErrSchema
	ErrBadKey        = errs.ErrBadKey
	ErrNotDelivered  = errs.ErrNotDelivered
)

// CodedError is a failure with a reason code finer than its sentinel (the vocabulary is
// in docs/bundle-format.md, "Reason codes"). It wraps Err, one of the sentinels above.
type CodedError struct {
	Code string
	Err  error
	Msg  string // what failed; never holds citizen data
}

func (e *CodedError) Error() string { return "exporter: " + e.Msg + ": " + e.Err.Error() }

func (e *CodedError) Unwrap() error { return e.Err }

func coded(code string, sentinel error, format string, args ...any) error {
	return &CodedError{Code: code, Err: sentinel, Msg: fmt.Sprintf(format, args...)}
}

// Reason codes beyond the sentinels' own (see Reason).
const (
	CodeBadID              = "bad-id"                // an ID does not match the spec's pattern
	CodeBadTime            = "bad-time"              // a time is not canonical RFC 3339 UTC
	CodeBadHex             = "bad-hex"               // a hash or key ID is not 64 lowercase hex digits
	CodeBatchMismatch      = "batch-mismatch"        // records and the batch's enrollment list differ
	CodeUnregisteredKey    = "unregistered-key"      // an approval key is not in the station's roster
	CodeKeyReplaced        = "key-replaced"          // an approval made after its key was replaced
	CodeKeyRevoked         = "key-revoked"           // an approval made after its key was revoked
	CodeApprovalStation    = "approval-station"      // an approval statement names another station
	CodeStatementMismatch  = "statement-mismatch"    // record data differ from the signed statement
	CodeRoster             = "bad-roster"            // a roster entry is inconsistent
	CodeIssuerKeyChange    = "bad-issuer-key-change" // an issuer-key change entry is inconsistent
	CodeAckIncomplete      = "ack-incomplete"        // an acknowledgement leaves records unaccounted for
	CodeAckExtra           = "ack-extra"             // an acknowledgement names records not in the bundle, or twice
	CodeAckReplay          = "ack-replay"            // an acknowledgement already imported, or out of sequence
	CodeRedirect           = "redirect"              // a receiver answered with a redirect
	CodeCredentialsInURL   = "credentials-in-url"    // an upload URL carries user info, a query or a fragment
	CodeSymlink            = "symlink"               // a symbolic link where a bundle file belongs on the medium
	CodeUnregisteredClient = "unregistered-station"  // a client certificate whose key is not a registered station
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
type SignatureError = errs.SignatureError

// TamperedError names the part whose bytes do not match their signed hash or fail
// authenticated decryption. It wraps ErrTampered.
type TamperedError = errs.TamperedError

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
func malformed(format string, args ...any) error { return errs.Malformed(format, args...) }
