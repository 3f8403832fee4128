package exporter

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"time"

	"enrollstation/exporter/internal/jsonprofile"
	"enrollstation/exporter/statement"
)

// Record is one approved enrollment as the exporter sees it: plain data the app maps its
// stored records onto.
type Record struct {
	EnrollmentID    string
	Identity        Identity
	Portrait        []byte // JPEG, exactly as stored
	Template        []byte // biometric template, opaque bytes
	ModelID         string // template model, e.g. "dlib_face_recognition_resnet_model_v1"
	TemplateVersion string // template encoding version, e.g. "1"
	Quality         []QualityMeasure
	Capture         Capture
	Approval        Approval
}

// Identity is the demographic data of one applicant; identity.schema.json is its schema.
type Identity struct {
	ApplicationNumber string  `json:"application_number,omitempty"` // as printed on the receipt: YYMMDD-NNNNNN-C
	FamilyName        string  `json:"family_name"`
	GivenNames        string  `json:"given_names"`
	DateOfBirth       string  `json:"date_of_birth"` // YYYY-MM-DD
	Sex               string  `json:"sex"`           // F, M or X (ICAO 9303)
	Nationality       string  `json:"nationality"`   // ICAO 9303 three-letter code
	PlaceOfBirth      string  `json:"place_of_birth"`
	Address           Address `json:"address"`
	PreviousIDNumber  string  `json:"previous_id_number,omitempty"`
	Phone             string  `json:"phone,omitempty"` // E.164, e.g. +85212345678
}

// Address is a postal address.
type Address struct {
	Lines      []string `json:"lines"`
	Locality   string   `json:"locality"`
	PostalCode string   `json:"postal_code,omitempty"`
	Country    string   `json:"country"` // ICAO 9303 three-letter code
}

// QualityMeasure is one ISO/IEC 29794-5 (OFIQ) quality measure: its identifier, the native
// (raw) value and the quality component value (scalar, 0..100).
type QualityMeasure struct {
	ID     string  `json:"id"`
	Raw    float64 `json:"raw"`
	Scalar int     `json:"scalar"`
}

// Capture is how the portrait was taken.
type Capture struct {
	Operator      string    // clerk account that captured
	CameraProfile string    // calibrated camera profile name
	Retries       int       // captures discarded before this one
	ForcedReason  string    // non-empty when a failing photo was accepted anyway
	CapturedAt    time.Time // stored in UTC with nanoseconds
}

// Approval is a supervisor's signature over the record: an ASN.1 DER ECDSA signature by
// SupervisorPublicKey (PKIX DER, P-256, a key in the bundle's roster) over
// SHA-256(Statement), the approval statement (package exporter/statement) that names the
// station, the record's ID, portrait and template hashes, identity, capture metadata and
// the roster key (docs/bundle-format.md, "Approval statement"). Format-v1 bundles may
// instead sign the digest from [ApprovalDigest] (Statement empty).
type Approval struct {
	SupervisorID        string
	SupervisorPublicKey []byte
	Signature           []byte
	SignedAt            time.Time
	Statement           []byte // optional, see above
}

// Batch identifies the batch a bundle carries. When EnrollmentIDs is set, the bundle must
// hold exactly those records, which lets the issuer detect a dropped record.
type Batch struct {
	ID            string
	ClosedAt      time.Time
	EnrollmentIDs []string
}

// AuditCheckpoint is the station's audit chain head at export time, carried opaquely.
type AuditCheckpoint struct {
	Seq       uint64
	Hash      []byte
	Signature []byte
}

// Member file names, in payload order for every record.
const (
	MemberIdentity = "identity.json"
	MemberPortrait = "portrait.jpg"
	MemberTemplate = "template.bin"
	MemberQuality  = "quality.json"
	MemberCapture  = "capture.json"
	MemberApproval = "approval.json"
)

// memberNames is the fixed order of a record's members in the payload and the manifest.
var memberNames = [...]string{MemberIdentity, MemberPortrait, MemberTemplate, MemberQuality, MemberCapture, MemberApproval}

// timeFormat is how every time in a bundle is written: UTC, RFC 3339 with nanoseconds.
const timeFormat = time.RFC3339Nano

func fmtTime(t time.Time) string { return t.UTC().Format(timeFormat) }

// parseTime reads a time as fmtTime writes it and nothing else: RFC 3339, "Z", no
// trailing zeros in the fraction, so an instant has one spelling in signed bytes.
func parseTime(s string) (time.Time, error) { return statement.ParseTime(s) }

// canonicalJSON marshals v and canonicalises it per RFC 8785.
func canonicalJSON(v any) ([]byte, error) { return jsonprofile.Canonical(v) }

// identitySchemaVersion is the identity.json schema_version of format v2.
const identitySchemaVersion = 2

// identityV2 is identity.json in format v2: the identity and its schema version.
type identityV2 struct {
	SchemaVersion int `json:"schema_version"`
	Identity
}

type qualityJSON struct {
	Measures []QualityMeasure `json:"measures"`
}

type captureJSON struct {
	Operator      string `json:"operator"`
	CameraProfile string `json:"camera_profile"`
	Retries       int    `json:"retries"`
	ForcedReason  string `json:"forced_reason"`
	CapturedAt    string `json:"captured_at"`
}

type approvalJSON struct {
	Algorithm           string `json:"algorithm"`
	SupervisorID        string `json:"supervisor_id"`
	SupervisorPublicKey string `json:"supervisor_public_key"` // base64 (standard, padded) PKIX DER
	Signature           string `json:"signature"`             // base64 ASN.1 DER ECDSA signature
	SignedAt            string `json:"signed_at"`
	Statement           []byte `json:"statement,omitempty"` // base64 of the signed statement
}

// approvalJSONv2 is approval.json in format v2: the key is named by its roster key ID.
type approvalJSONv2 struct {
	Algorithm       string `json:"algorithm"`
	SupervisorID    string `json:"supervisor_id"`
	SupervisorKeyID string `json:"supervisor_key_id"` // hex SHA-256 of the roster key's PKIX DER
	Signature       []byte `json:"signature"`         // base64 ASN.1 DER ECDSA over SHA-256(statement)
	SignedAt        string `json:"signed_at"`
	Statement       []byte `json:"statement"` // base64 of the signed statement bytes
}

// Approval algorithms: what approval.json's signature is over.
const (
	approvalAlgorithm    = "ES256-DER/approval-digest-v1" // v1: ApprovalDigest
	statementAlgorithm   = "ES256-DER/statement-v1"       // v1: SHA-256 of the carried station statement
	statementAlgorithmV2 = "ES256-DER/statement-v2"       // v2: SHA-256 of the package statement bytes
)

// encodeMembers returns the bytes of a record's six members in memberNames order, as
// format version ver writes them.
func encodeMembers(r Record, ver uint16) ([len(memberNames)][]byte, error) {
	var m [len(memberNames)][]byte
	var err error
	var id any = r.Identity
	if ver >= formatVersion {
		id = identityV2{identitySchemaVersion, r.Identity}
	}
	if m[0], err = canonicalJSON(id); err != nil {
		return m, fmt.Errorf("exporter: record %s: encoding identity: %w", r.EnrollmentID, err)
	}
	m[1] = r.Portrait
	m[2] = r.Template
	q := r.Quality
	if q == nil {
		q = []QualityMeasure{}
	}
	if m[3], err = canonicalJSON(qualityJSON{q}); err != nil {
		return m, fmt.Errorf("exporter: record %s: encoding quality vector: %w", r.EnrollmentID, err)
	}
	if m[4], err = canonicalJSON(captureJSON{
		Operator: r.Capture.Operator, CameraProfile: r.Capture.CameraProfile, Retries: r.Capture.Retries,
		ForcedReason: r.Capture.ForcedReason, CapturedAt: fmtTime(r.Capture.CapturedAt),
	}); err != nil {
		return m, fmt.Errorf("exporter: record %s: encoding capture metadata: %w", r.EnrollmentID, err)
	}
	if ver >= formatVersion {
		if m[5], err = canonicalJSON(approvalJSONv2{
			Algorithm: statementAlgorithmV2, SupervisorID: r.Approval.SupervisorID,
			SupervisorKeyID: KeyID(r.Approval.SupervisorPublicKey), Signature: r.Approval.Signature,
			SignedAt: fmtTime(r.Approval.SignedAt), Statement: r.Approval.Statement,
		}); err != nil {
			return m, fmt.Errorf("exporter: record %s: encoding approval: %w", r.EnrollmentID, err)
		}
		return m, nil
	}
	alg := approvalAlgorithm
	if len(r.Approval.Statement) > 0 {
		alg = statementAlgorithm
	}
	if m[5], err = canonicalJSON(approvalJSON{
		Algorithm:           alg,
		Statement:           r.Approval.Statement,
		SupervisorID:        r.Approval.SupervisorID,
		SupervisorPublicKey: base64.StdEncoding.EncodeToString(r.Approval.SupervisorPublicKey),
		Signature:           base64.StdEncoding.EncodeToString(r.Approval.Signature),
		SignedAt:            fmtTime(r.Approval.SignedAt),
	}); err != nil {
		return m, fmt.Errorf("exporter: record %s: encoding approval: %w", r.EnrollmentID, err)
	}
	return m, nil
}

// approvalStatement is what a supervisor signs: the record's identity and the hashes of
// every member except the approval itself.
type approvalStatement struct {
	Context         string            `json:"context"`
	EnrollmentID    string            `json:"enrollment_id"`
	Members         map[string]string `json:"members"` // member name → hex SHA-256
	TemplateModel   string            `json:"template_model"`
	TemplateVersion string            `json:"template_version"`
}

const approvalContext = "enrollstation approval v1"

// ApprovalDigest is the digest a supervisor's approval signs: SHA-256 of the RFC 8785
// canonical JSON of
//
//	{"context":"enrollstation approval v1","enrollment_id":ID,
//	 "members":{"capture.json":HEX,"identity.json":HEX,"portrait.jpg":HEX,"quality.json":HEX,"template.bin":HEX},
//	 "template_model":MODEL,"template_version":VERSION}
//
// where each HEX is the lowercase hex SHA-256 of that member's bytes in the bundle. The
// Approval field of r is ignored, so the digest can be computed before signing. The
// signature is ECDSA P-256 over this digest, ASN.1 DER encoded (what crypto.Signer returns
// for an ECDSA key given the digest and crypto.SHA256).
//
// Format v1 only: format v2 approvals sign a statement ([SignApproval]).
func ApprovalDigest(r Record) ([32]byte, error) {
	m, err := encodeMembers(r, formatV1)
	if err != nil {
		return [32]byte{}, err
	}
	var hashes [len(memberNames)][32]byte
	for i := range m {
		hashes[i] = sha256.Sum256(m[i])
	}
	return approvalDigest(r.EnrollmentID, r.ModelID, r.TemplateVersion, hashes)
}

func approvalDigest(id, model, version string, hashes [len(memberNames)][32]byte) ([32]byte, error) {
	st := approvalStatement{Context: approvalContext, EnrollmentID: id, Members: map[string]string{},
		TemplateModel: model, TemplateVersion: version}
	for i, name := range memberNames {
		if name == MemberApproval {
			continue
		}
		st.Members[name] = hex.EncodeToString(hashes[i][:])
	}
	b, err := canonicalJSON(st)
	if err != nil {
		return [32]byte{}, fmt.Errorf("exporter: approval digest of %s: %w", id, err)
	}
	return sha256.Sum256(b), nil
}

// SignApproval makes a supervisor's approval of r for a bundle of the station stationID
// (hex [StationID]): it signs the approval statement for r (package exporter/statement)
// with s (an ECDSA P-256 key, e.g. TPM-backed, registered in the station's roster) and
// returns the Approval to store with the record. The station's own workflow signs the
// statement its vault builds instead; this is for tools and tests.
func SignApproval(r Record, s crypto.Signer, stationID, supervisorID string, at time.Time) (Approval, error) {
	pub, ok := s.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return Approval{}, fmt.Errorf("exporter: supervisor key is %T, want ECDSA P-256: %w", s.Public(), ErrBadKey)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return Approval{}, fmt.Errorf("exporter: supervisor key: %w", err)
	}
	mem, err := encodeMembers(r, formatVersion)
	if err != nil {
		return Approval{}, err
	}
	stmt, err := statementOf(r, stationID, supervisorID, der, at, statement.Hash(mem[3])).Marshal()
	if err != nil {
		return Approval{}, fmt.Errorf("exporter: approval statement of %s: %w", r.EnrollmentID, err)
	}
	d := sha256.Sum256(stmt)
	sig, err := s.Sign(rand.Reader, d[:], crypto.SHA256)
	if err != nil {
		return Approval{}, fmt.Errorf("exporter: signing approval of %s: %w", r.EnrollmentID, err)
	}
	return Approval{SupervisorID: supervisorID, SupervisorPublicKey: der, Signature: sig, SignedAt: at.UTC(), Statement: stmt}, nil
}

// VerifyApproval checks r.Approval against the record's content for a bundle of station
// stationID (hex), taking the key the approval names as registered: what Build checks
// against the roster. Errors wrap ErrBadSignature.
func VerifyApproval(r Record, stationID string) error {
	m, err := encodeMembers(r, formatVersion)
	if err != nil {
		return err
	}
	var hashes [len(memberNames)][32]byte
	for i := range m {
		hashes[i] = sha256.Sum256(m[i])
	}
	pub, err := parseP256(r.Approval.SupervisorPublicKey)
	if err != nil {
		return &SignatureError{What: "approval of record " + r.EnrollmentID, Err: err}
	}
	k := &rosterKey{RosterEntry: RosterEntry{SupervisorID: r.Approval.SupervisorID, PublicKey: r.Approval.SupervisorPublicKey, Status: KeyActive}, pub: pub}
	return verifyApprovalV2(r, hashes, stationID, map[string]*rosterKey{KeyID(r.Approval.SupervisorPublicKey): k})
}
