package exporter

import (
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"time"

	"enrollstation/exporter/internal/jsonprofile"
	"enrollstation/exporter/statement"
)

// stationStatement is the part of a format-v1 station approval statement (algorithm
// ES256-DER/statement-v1, see docs/bundle-format.md) that an issuer checks against the
// bundle: the supervisor signed these values, so identity and capture data that differ
// from them were changed after approval, whoever signed the manifest.
type stationStatement struct {
	EnrollmentID string                  `json:"enrollment_id"`
	Portrait     string                  `json:"portrait_sha256"`
	Template     string                  `json:"template_sha256"`
	CapturedBy   *string                 `json:"captured_by"`
	CreatedAt    time.Time               `json:"created_at"`
	Demographics *statement.Demographics `json:"demographics"` // same fields as v2's
	Capture      *statementCapture       `json:"capture"`
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
	if err := jsonprofile.DecodeAllowUnknown(stmt, &st); err != nil {
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
	if err := compareDemographics(st.Demographics, r.Identity); err != nil {
		return err
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

// statementOf is the approval statement (format v2) for record r as the exporter sees it:
// what SignApproval signs. The station's vault builds the same statement from its stored
// record (with its own quality report's hash); both go through package statement.
func statementOf(r Record, stationID, supervisorID string, keyDER []byte, at time.Time, qualityHash string) statement.Statement {
	id, c := r.Identity, r.Capture
	return statement.Statement{
		StationID: stationID, EnrollmentID: r.EnrollmentID, ApplicationNumber: id.ApplicationNumber,
		Supervisor: supervisorID, SupervisorKeyID: KeyID(keyDER), ApprovedAt: fmtTime(at),
		CapturedBy: c.Operator, CreatedAt: fmtTime(c.CapturedAt),
		Demographics: statement.Demographics{
			Surname: id.FamilyName, GivenNames: id.GivenNames, DateOfBirth: id.DateOfBirth, Sex: id.Sex,
			Nationality: id.Nationality, PlaceOfBirth: id.PlaceOfBirth, AddressLines: id.Address.Lines,
			Locality: id.Address.Locality, PostalCode: id.Address.PostalCode, Country: id.Address.Country,
			DocumentNumber: id.PreviousIDNumber, Phone: id.Phone,
		},
		Capture: statement.Capture{ProfileID: c.CameraProfile, CapturedAt: fmtTime(c.CapturedAt),
			Attempts: c.Retries, ForcedReason: c.ForcedReason},
		PortraitSHA256: statement.Hash(r.Portrait), TemplateSHA256: statement.Hash(r.Template), QualitySHA256: qualityHash,
	}
}

// verifyApprovalV2 checks a format-v2 approval: the signature first, under the roster key
// the approval names, then the statement it covers, which must name this station, the
// roster key and its supervisor, and this record (ID, portrait and template hashes,
// identity, capture), and be made while the key was in service.
func verifyApprovalV2(r Record, hashes [len(memberNames)][32]byte, stationID string, roster map[string]*rosterKey) error {
	a := r.Approval
	what := "approval of record " + r.EnrollmentID
	fail := func(code, format string, args ...any) error {
		return &SignatureError{What: what, Err: coded(code, ErrBadSignature, format, args...)}
	}
	if len(a.Statement) == 0 {
		return fail(CodeStatementMismatch, "format 2 approvals sign a statement (%s)", statementAlgorithmV2)
	}
	keyID := KeyID(a.SupervisorPublicKey)
	k := roster[keyID]
	if k == nil || k.SupervisorID != a.SupervisorID {
		return fail(CodeUnregisteredKey, "the approval key is not in the station's roster for supervisor %q", a.SupervisorID)
	}
	d := sha256.Sum256(a.Statement)
	if !ecdsa.VerifyASN1(k.pub, d[:], a.Signature) {
		return &SignatureError{What: what}
	}
	st, err := statement.Parse(a.Statement)
	if err != nil {
		return &SignatureError{What: what, Err: err}
	}
	if st.StationID != stationID {
		return fail(CodeApprovalStation, "the signed statement names another station")
	}
	if st.SupervisorKeyID != keyID || st.Supervisor != a.SupervisorID || st.ApprovedAt != fmtTime(a.SignedAt) {
		return fail(CodeStatementMismatch, "supervisor, key or time differ from the signed statement")
	}
	if k.Status != KeyActive && !a.SignedAt.Before(k.EndedAt) {
		code := CodeKeyReplaced
		if k.Status == KeyRevoked {
			code = CodeKeyRevoked
		}
		return fail(code, "approved at %s with a key %s at %s", fmtTime(a.SignedAt), k.Status, fmtTime(k.EndedAt))
	}
	if a.SignedAt.Before(k.Created) {
		return fail(CodeUnregisteredKey, "approved before the key was registered")
	}
	if err := compareStatement(st, r, hashes); err != nil {
		return &SignatureError{What: what, Err: coded(CodeStatementMismatch, ErrBadSignature, "%v", err)}
	}
	return nil
}

// compareStatement checks a v2 statement against the record; the error names the first
// field that differs (never its value).
func compareStatement(st *statement.Statement, r Record, hashes [len(memberNames)][32]byte) error {
	if st.EnrollmentID != r.EnrollmentID {
		return fmt.Errorf("the signed statement names another enrollment")
	}
	if st.PortraitSHA256 != hex.EncodeToString(hashes[1][:]) {
		return fmt.Errorf("the signed statement names another %s", MemberPortrait)
	}
	if st.TemplateSHA256 != hex.EncodeToString(hashes[2][:]) {
		return fmt.Errorf("the signed statement names another %s", MemberTemplate)
	}
	if st.ApplicationNumber != r.Identity.ApplicationNumber {
		return fmt.Errorf("%s application_number differs from the signed statement", MemberIdentity)
	}
	if err := compareDemographics(&st.Demographics, r.Identity); err != nil {
		return err
	}
	c := st.Capture
	switch {
	case st.CapturedBy != r.Capture.Operator:
		return fmt.Errorf("%s operator differs from the signed statement", MemberCapture)
	case c.ProfileID != r.Capture.CameraProfile:
		return fmt.Errorf("%s camera_profile differs from the signed statement", MemberCapture)
	case c.Attempts != r.Capture.Retries:
		return fmt.Errorf("%s retries differs from the signed statement", MemberCapture)
	case c.ForcedReason != r.Capture.ForcedReason:
		return fmt.Errorf("%s forced_reason differs from the signed statement", MemberCapture)
	case c.CapturedAt != fmtTime(r.Capture.CapturedAt):
		return fmt.Errorf("%s captured_at differs from the signed statement", MemberCapture)
	}
	return nil
}

// verifyApproval checks a format-v1 approval: a signature by the key the approval carries
// over the record's approval digest, or over its v1 statement, which must then name this
// record (checkStatement). hashes are the members' SHA-256. Format v1 has no roster: the
// issuer learns nothing about whether that key was registered.
func verifyApproval(r Record, hashes [len(memberNames)][32]byte) error {
	a := r.Approval
	what := "approval of record " + r.EnrollmentID
	pub, err := parseP256(a.SupervisorPublicKey)
	if err != nil {
		return &SignatureError{What: what, Err: err}
	}
	var d [32]byte
	if len(a.Statement) > 0 {
		d = sha256.Sum256(a.Statement)
		if !ecdsa.VerifyASN1(pub, d[:], a.Signature) {
			return &SignatureError{What: what}
		}
		if err := checkStatement(a.Statement, r, hashes); err != nil {
			return &SignatureError{What: what, Err: coded(CodeStatementMismatch, ErrBadSignature, "%v", err)}
		}
		return nil
	}
	if d, err = approvalDigest(r.EnrollmentID, r.ModelID, r.TemplateVersion, hashes); err != nil {
		return err
	}
	if !ecdsa.VerifyASN1(pub, d[:], a.Signature) {
		return &SignatureError{What: what}
	}
	return nil
}

// compareDemographics checks the identity fields of a statement (v1 or v2) against
// identity.json; the error names the first field that differs (never its value).
func compareDemographics(d *statement.Demographics, id Identity) error {
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
	return nil
}
