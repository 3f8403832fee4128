// Package statement is the one definition of the approval statement a supervisor signs
// (algorithm ES256-DER/statement-v2, docs/bundle-format.md, "Approval statement"). The
// station's vault builds a Statement from its stored record and signs the bytes Marshal
// returns; the exporter and the issuer read them back with Parse. It is a leaf: it knows
// neither the vault's storage structs nor the bundle.
package statement

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"time"

	"enrollstation/exporter/internal/jsonprofile"
)

// Type is the value of the statement's "type" member in this version.
const Type = "enrollstation-approval-v2"

// TypeV1 is the statement of format-v1 bundles (vault storage structs as signed).
const TypeV1 = "enrollstation-approval-v1"

// Statement is what a supervisor approves: which station, which record (its ID, the
// hashes of its portrait, template and quality report, its identity and capture data) and
// with which registered key. Every member is always present (empty strings and zero
// counts included), so a reader can require each one.
type Statement struct {
	Type              string       `json:"type"`
	StationID         string       `json:"station_id"` // hex SHA-256 of the station key's PKIX DER
	EnrollmentID      string       `json:"enrollment_id"`
	ApplicationNumber string       `json:"application_number"` // as printed on the receipt, "" if none
	Supervisor        string       `json:"supervisor"`         // roster supervisor_id
	SupervisorKeyID   string       `json:"supervisor_key_id"`  // hex SHA-256 of the approval key's PKIX DER
	ApprovedAt        string       `json:"approved_at"`        // RFC 3339 UTC
	CapturedBy        string       `json:"captured_by"`
	CreatedAt         string       `json:"created_at"` // RFC 3339 UTC
	Demographics      Demographics `json:"demographics"`
	Capture           Capture      `json:"capture"`
	PortraitSHA256    string       `json:"portrait_sha256"` // hex SHA-256 of portrait.jpg
	TemplateSHA256    string       `json:"template_sha256"` // hex SHA-256 of template.bin
	QualitySHA256     string       `json:"quality_sha256"`  // hex SHA-256 of the station's full quality report (not in the bundle)
}

// Demographics are the identity fields as the supervisor saw them.
type Demographics struct {
	Surname        string   `json:"surname"`
	GivenNames     string   `json:"given_names"`
	DateOfBirth    string   `json:"date_of_birth"`
	Sex            string   `json:"sex"`
	Nationality    string   `json:"nationality"`
	PlaceOfBirth   string   `json:"place_of_birth"`
	Address        string   `json:"address"` // free-text form, not compared
	AddressLines   []string `json:"address_lines"`
	Locality       string   `json:"locality"`
	PostalCode     string   `json:"postal_code"`
	Country        string   `json:"country"`
	DocumentNumber string   `json:"document_number"`
	Phone          string   `json:"phone"`
}

// Capture is how the portrait was taken.
type Capture struct {
	Camera       string `json:"camera"`
	ProfileID    string `json:"profile_id"`
	CapturedAt   string `json:"captured_at"` // RFC 3339 UTC; the record's creation time when no frame time was kept
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	Attempts     int    `json:"attempts"`
	ForcedReason string `json:"forced_reason"` // "" unless a failing photo was accepted
}

// FormatTime is how a statement writes times: RFC 3339 UTC with nanoseconds, trailing
// zeros dropped (Go's time.RFC3339Nano).
func FormatTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// ParseTime reads a time written by FormatTime, refusing any other spelling (offsets,
// lowercase, padded fractions), so one instant has one spelling.
func ParseTime(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || FormatTime(t) != s {
		return time.Time{}, fmt.Errorf("time is not RFC 3339 UTC in canonical form")
	}
	return t.UTC(), nil
}

// KeyID is the lowercase hex SHA-256 of a PKIX DER public key: how rosters and statements
// name supervisor and station keys.
func KeyID(pkixDER []byte) string { s := sha256.Sum256(pkixDER); return hex.EncodeToString(s[:]) }

// Hash is the lowercase hex SHA-256 of b.
func Hash(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Marshal returns the statement's signed bytes: its RFC 8785 canonical JSON.
func (s Statement) Marshal() ([]byte, error) {
	if s.Type == "" {
		s.Type = Type
	}
	if s.Demographics.AddressLines == nil {
		s.Demographics.AddressLines = []string{}
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return jsonprofile.Canonical(s)
}

// ErrInvalid is wrapped by every Parse error that is not a JSON profile violation.
var ErrInvalid = errors.New("not a valid approval statement")

// Parse reads signed statement bytes under the strict profile: canonical JSON, every
// member present and known, hashes lowercase hex, times canonical RFC 3339 UTC. Errors are
// *jsonprofile.Error or wrap ErrInvalid; neither echoes the statement's values.
func Parse(b []byte) (*Statement, error) {
	var s Statement
	if err := jsonprofile.DecodeExact(b, &s); err != nil {
		return nil, err
	}
	if err := s.check(); err != nil {
		return nil, err
	}
	return &s, nil
}

func (s Statement) check() error {
	if s.Type != Type {
		return fmt.Errorf("%w: type is not %s", ErrInvalid, Type)
	}
	for name, h := range map[string]string{"station_id": s.StationID, "supervisor_key_id": s.SupervisorKeyID,
		"portrait_sha256": s.PortraitSHA256, "template_sha256": s.TemplateSHA256, "quality_sha256": s.QualitySHA256} {
		if !hex64.MatchString(h) {
			return fmt.Errorf("%w: %s is not 64 lowercase hex digits", ErrInvalid, name)
		}
	}
	for name, t := range map[string]string{"approved_at": s.ApprovedAt, "created_at": s.CreatedAt, "capture.captured_at": s.Capture.CapturedAt} {
		if _, err := ParseTime(t); err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalid, name, err)
		}
	}
	return nil
}
