package exporter

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"time"
)

// stationStatement is the part of a station approval statement (algorithm
// ES256-DER/statement-v1, see docs/bundle-format.md) that an issuer checks against the
// bundle: the supervisor signed these values, so identity and capture data that differ
// from them were changed after approval, whoever signed the manifest.
type stationStatement struct {
	EnrollmentID string                 `json:"enrollment_id"`
	Portrait     string                 `json:"portrait_sha256"`
	Template     string                 `json:"template_sha256"`
	CapturedBy   *string                `json:"captured_by"`
	CreatedAt    time.Time              `json:"created_at"`
	Demographics *statementDemographics `json:"demographics"`
	Capture      *statementCapture      `json:"capture"`
}

// statementDemographics are the identity fields of a station statement, under the
// station's own names. Fields the identity record does not carry (the free-text
// address, the application number) are not compared.
type statementDemographics struct {
	GivenNames     string   `json:"given_names"`
	Surname        string   `json:"surname"`
	DateOfBirth    string   `json:"date_of_birth"`
	Sex            string   `json:"sex"`
	Nationality    string   `json:"nationality"`
	PlaceOfBirth   string   `json:"place_of_birth"`
	DocumentNumber string   `json:"document_number"`
	Phone          string   `json:"phone"`
	AddressLines   []string `json:"address_lines"`
	Locality       string   `json:"locality"`
	PostalCode     string   `json:"postal_code"`
	Country        string   `json:"country"`
}

type statementCapture struct {
	ProfileID  string            `json:"profile_id"`
	CapturedAt time.Time         `json:"captured_at"`
	Attempts   int               `json:"attempts"`
	Extra      map[string]string `json:"extra"`
}

// ForcedReasonKey is where a station statement's capture metadata (the station's
// CaptureMeta.Extra) keeps the reason a failing photo was accepted. The one definition:
// the station's workflow writes it under this key (enroll.ExtraForcedReason).
const ForcedReasonKey = "forced_reason"

// checkStatement checks that a station approval statement names record r: its ID, the
// hashes of its portrait and template, its identity and its capture metadata. The error
// names the first field that differs.
func checkStatement(stmt []byte, r Record, hashes [len(memberNames)][32]byte) error {
	var st stationStatement
	if err := json.Unmarshal(stmt, &st); err != nil {
		return fmt.Errorf("statement is not a station approval statement: %v", err)
	}
	if st.EnrollmentID != r.EnrollmentID {
		return fmt.Errorf("the signed statement names enrollment %q", st.EnrollmentID)
	}
	if st.Portrait != hex.EncodeToString(hashes[1][:]) {
		return fmt.Errorf("the signed statement names another %s", MemberPortrait)
	}
	if st.Template != hex.EncodeToString(hashes[2][:]) {
		return fmt.Errorf("the signed statement names another %s", MemberTemplate)
	}
	if st.Demographics == nil || st.Capture == nil || st.CapturedBy == nil {
		return fmt.Errorf("the signed statement has no demographics, capture or captured_by")
	}
	d, id := st.Demographics, r.Identity
	for _, f := range []struct{ name, signed, got string }{
		{"family_name", d.Surname, id.FamilyName},
		{"given_names", d.GivenNames, id.GivenNames},
		{"date_of_birth", d.DateOfBirth, id.DateOfBirth},
		{"sex", d.Sex, id.Sex},
		{"nationality", d.Nationality, id.Nationality},
		{"place_of_birth", d.PlaceOfBirth, id.PlaceOfBirth},
		{"address.locality", d.Locality, id.Address.Locality},
		{"address.postal_code", d.PostalCode, id.Address.PostalCode},
		{"address.country", d.Country, id.Address.Country},
		{"previous_id_number", d.DocumentNumber, id.PreviousIDNumber},
		{"phone", d.Phone, id.Phone},
	} {
		if f.signed != f.got {
			return fmt.Errorf("%s %s differs from the signed statement", MemberIdentity, f.name)
		}
	}
	if !slices.Equal(d.AddressLines, id.Address.Lines) {
		return fmt.Errorf("%s address.lines differs from the signed statement", MemberIdentity)
	}
	c := st.Capture
	at := c.CapturedAt
	if at.IsZero() { // a station that recorded no frame time captured when it created the record
		at = st.CreatedAt
	}
	switch {
	case *st.CapturedBy != r.Capture.Operator:
		return fmt.Errorf("%s operator differs from the signed statement", MemberCapture)
	case c.ProfileID != r.Capture.CameraProfile:
		return fmt.Errorf("%s camera_profile differs from the signed statement", MemberCapture)
	case c.Attempts != r.Capture.Retries:
		return fmt.Errorf("%s retries differs from the signed statement", MemberCapture)
	case c.Extra[ForcedReasonKey] != r.Capture.ForcedReason:
		return fmt.Errorf("%s forced_reason differs from the signed statement", MemberCapture)
	case !at.Equal(r.Capture.CapturedAt):
		return fmt.Errorf("%s captured_at differs from the signed statement", MemberCapture)
	}
	return nil
}
