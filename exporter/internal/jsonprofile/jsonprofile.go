// Package jsonprofile is the strict JSON reader profile of bundle format v2
// (docs/bundle-format.md, "JSON profile"): I-JSON (RFC 7493), exact-case member names,
// duplicate names refused, unknown members refused, and for signed members the exact
// RFC 8785 canonical form. Errors carry a stable reason code and never echo the values
// read, which may be a citizen's data.
package jsonprofile

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"

	jsonv1 "encoding/json"
	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/gowebpki/jcs"
)

// Reason codes of profile violations (docs/bundle-format.md, "Reason codes").
const (
	CodeInvalid      = "json-invalid"       // not I-JSON: syntax, invalid UTF-8, wrong type
	CodeDuplicateKey = "json-duplicate-key" // a member name appears twice in one object
	CodeUnknownField = "json-unknown-field" // a member the spec does not define (names match exactly, case included)
	CodeNonCanonical = "json-non-canonical" // signed bytes that are not their RFC 8785 form
	CodeMissingField = "json-missing-field" // a required member is absent or null
)

// Error is a profile violation. Where is a JSON Pointer (RFC 6901) into the document, or "".
type Error struct {
	Code  string
	Where string
}

func (e *Error) Error() string {
	if e.Where == "" {
		return e.Code
	}
	return e.Code + " at " + strconv.Quote(e.Where)
}

// Decode reads b into v under the profile, without requiring canonical form.
func Decode(b []byte, v any) error {
	if err := json.Unmarshal(b, v, json.RejectUnknownMembers(true)); err != nil {
		return classify(err)
	}
	return nil
}

func classify(err error) error {
	e := &Error{Code: CodeInvalid}
	var se *json.SemanticError
	var sy *jsontext.SyntacticError
	switch {
	case errors.As(err, &sy):
		e.Where = string(sy.JSONPointer)
		if errors.Is(sy.Err, jsontext.ErrDuplicateName) {
			e.Code = CodeDuplicateKey
		}
	case errors.As(err, &se):
		e.Where = string(se.JSONPointer)
		if errors.Is(se.Err, json.ErrUnknownName) {
			e.Code = CodeUnknownField
		}
	}
	return e
}

// DecodeAllowUnknown is Decode that ignores members v does not define (for format-v1
// statements, which carry the station's storage fields), still refusing duplicates and
// case variants of the names v does define.
func DecodeAllowUnknown(b []byte, v any) error {
	if err := json.Unmarshal(b, v); err != nil {
		return classify(err)
	}
	return nil
}

// DecodeCanonical reads signed bytes: b must be exactly its RFC 8785 canonical form, then
// it is decoded as Decode does.
func DecodeCanonical(b []byte, v any) error {
	if err := Decode(b, v); err != nil {
		return err
	}
	c, err := jcs.Transform(b)
	if err != nil {
		return &Error{Code: CodeInvalid}
	}
	if !bytes.Equal(c, b) {
		return &Error{Code: CodeNonCanonical}
	}
	return nil
}

// DecodeExact reads signed bytes that must be exactly what this program writes for v:
// canonical (DecodeCanonical), and re-encoding the decoded value gives b again, so no
// required member is absent or null and every value has its one spelling.
func DecodeExact(b []byte, v any) error {
	if err := DecodeCanonical(b, v); err != nil {
		return err
	}
	c, err := Canonical(v)
	if err != nil || !bytes.Equal(c, b) {
		return &Error{Code: CodeMissingField}
	}
	return nil
}

// Canonical marshals v (encoding/json rules: struct tags, omitempty) and returns its RFC
// 8785 canonical form.
func Canonical(v any) ([]byte, error) {
	b, err := jsonv1.Marshal(v)
	if err != nil {
		return nil, err
	}
	c, err := jcs.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("canonical JSON: %w", err)
	}
	return c, nil
}
