package exporter

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/veraison/go-cose"
)

const (
	pemAck    = "ENROLLSTATION ACKNOWLEDGEMENT"
	ackFormat = "enrollstation-ack/2"
	ctAck     = "application/vnd.enrollstation.ack+json"
	maxAck    = 16 << 20
)

// Acknowledgement kinds.
const (
	AckPositive = "ack"  // accounts for every record: accepted or refused, each with a reason
	AckNegative = "nack" // refuses the whole bundle with one reason; its records go back for re-export
)

// Record refusal reasons (docs/bundle-format.md, "Reason codes"): why an issuer refuses
// one record of a bundle it accepted.
var RecordRefusalReasons = []string{
	"portrait-quality",  // the portrait is not usable for the card
	"identity-mismatch", // identity data do not match the issuer's registers
	"duplicate",         // the citizen is already enrolled or in another bundle
	"document-invalid",  // the previous document is unknown, lost or stolen
	"policy",            // refused under the issuer's policy
	"other",             // anything else: the detail says what
}

// BundleRefusalReasons are why an issuer refuses a whole bundle (a negative
// acknowledgement): every reason code Open may return, plus "policy" and "other".
var BundleRefusalReasons = []string{
	"malformed", "unsupported", "too-large", "bad-signature", "tampered", "truncated",
	"wrong-issuer", "wrong-station", "replay", "chain", "missing-record", "schema", "bad-key",
	"json-invalid", "json-duplicate-key", "json-unknown-field", "json-non-canonical", "json-missing-field",
	CodeBadID, CodeBadTime, CodeBadHex, CodeBatchMismatch, CodeUnregisteredKey, CodeKeyReplaced,
	CodeKeyRevoked, CodeApprovalStation, CodeStatementMismatch, CodeRoster, CodeIssuerKeyChange,
	"policy", "other",
}

// Ack is an issuer's signed acknowledgement of one bundle: positive (every record
// accepted or refused) or negative (the whole bundle refused).
type Ack struct {
	Seq          uint64 // the issuer's acknowledgement sequence for this station, ≥ 1, increasing
	Kind         string // AckPositive or AckNegative
	BundleID     string
	BundleSHA256 [32]byte
	BundleSeq    uint64 // the bundle's sequence number; 0 in a negative acknowledgement of a bundle that did not open
	StationID    [32]byte
	Accepted     []string    // enrollment IDs the issuer has taken over (positive only)
	Rejected     []Rejection // records the issuer refuses (positive only)
	Reason       string      // negative only: a BundleRefusalReasons code
	Detail       string      // negative only: free text
	Created      time.Time
}

// Rejection is a record the issuer refuses: a RecordRefusalReasons code and free text.
type Rejection struct {
	EnrollmentID string `json:"enrollment_id"`
	Reason       string `json:"reason"`
	Detail       string `json:"detail"`
}

type ackJSON struct {
	Format       string      `json:"format"`
	Kind         string      `json:"kind"`
	AckSeq       string      `json:"ack_seq"` // decimal
	BundleID     string      `json:"bundle_id"`
	BundleSHA256 string      `json:"bundle_sha256"`
	BundleSeq    string      `json:"bundle_seq"` // decimal, "0" when unknown
	StationID    string      `json:"station_id"`
	IssuerKeyID  string      `json:"issuer_key_id"`
	Accepted     []string    `json:"accepted"`
	Rejected     []Rejection `json:"rejected"`
	Reason       string      `json:"reason"` // "" in a positive acknowledgement
	Detail       string      `json:"detail"`
	Created      string      `json:"created"`
}

// MakeAck signs a positive acknowledgement of a verified bundle: every record is accepted
// except those in rejected (enrollment ID → reason). A reason that is a
// RecordRefusalReasons code is carried as the code; any other text is carried as
// "other" with the text as detail. The acknowledgement sequence is the creation time in
// microseconds since 1970 (see Acknowledge to give one).
func MakeAck(issuer *IssuerPrivateKey, b *Bundle, rejected map[string]string, now time.Time) ([]byte, error) {
	refused := make(map[string]Rejection, len(rejected))
	for id, reason := range rejected {
		if slices.Contains(RecordRefusalReasons, reason) {
			refused[id] = Rejection{EnrollmentID: id, Reason: reason}
		} else {
			refused[id] = Rejection{EnrollmentID: id, Reason: "other", Detail: reason}
		}
	}
	return Acknowledge(issuer, b, uint64(now.UnixMicro()), refused, now)
}

// Acknowledge signs a positive acknowledgement with sequence seq: every record of b is
// accepted except those in refused. It refuses IDs that are not records of b.
func Acknowledge(issuer *IssuerPrivateKey, b *Bundle, seq uint64, refused map[string]Rejection, now time.Time) ([]byte, error) {
	a := Ack{Seq: seq, Kind: AckPositive, BundleID: b.ID, BundleSHA256: b.SHA256, BundleSeq: b.Seq,
		StationID: b.StationID, Accepted: []string{}, Rejected: []Rejection{}, Created: now}
	n := 0
	for _, r := range b.Records {
		if rj, ok := refused[r.EnrollmentID]; ok {
			rj.EnrollmentID = r.EnrollmentID
			a.Rejected = append(a.Rejected, rj)
			n++
		} else {
			a.Accepted = append(a.Accepted, r.EnrollmentID)
		}
	}
	if n != len(refused) {
		return nil, coded(CodeAckExtra, ErrMalformed, "acknowledgement: a refused enrollment is not a record of bundle %s", b.ID)
	}
	return signAck(issuer, a)
}

// BundleRef names a bundle an issuer refuses as a whole, possibly one that did not open.
type BundleRef struct {
	ID        string
	SHA256    [32]byte
	Seq       uint64 // 0 if unknown
	StationID [32]byte
}

// Refuse signs a negative acknowledgement: the issuer refuses the whole bundle with a
// BundleRefusalReasons code and free text; the station puts its records back for export
// in a new bundle.
func Refuse(issuer *IssuerPrivateKey, b BundleRef, seq uint64, reason, detail string, now time.Time) ([]byte, error) {
	return signAck(issuer, Ack{Seq: seq, Kind: AckNegative, BundleID: b.ID, BundleSHA256: b.SHA256, BundleSeq: b.Seq,
		StationID: b.StationID, Accepted: []string{}, Rejected: []Rejection{}, Reason: reason, Detail: detail, Created: now})
}

func signAck(issuer *IssuerPrivateKey, a Ack) ([]byte, error) {
	kid := issuer.pub.KeyID()
	j := ackJSON{Format: ackFormat, Kind: a.Kind, AckSeq: strconv.FormatUint(a.Seq, 10), BundleID: a.BundleID,
		BundleSHA256: hex.EncodeToString(a.BundleSHA256[:]), BundleSeq: strconv.FormatUint(a.BundleSeq, 10),
		StationID: hex.EncodeToString(a.StationID[:]), IssuerKeyID: hex.EncodeToString(kid[:]),
		Accepted: a.Accepted, Rejected: a.Rejected, Reason: a.Reason, Detail: a.Detail, Created: fmtTime(a.Created)}
	if err := checkAckJSON(&j); err != nil {
		return nil, err
	}
	payload, err := canonicalJSON(j)
	if err != nil {
		return nil, fmt.Errorf("exporter: encoding acknowledgement: %w", err)
	}
	signer, err := cose.NewSigner(cose.AlgorithmEdDSA, issuer.sig)
	if err != nil {
		return nil, fmt.Errorf("exporter: acknowledgement signer: %w", err)
	}
	msg, err := cose.Sign1(rand.Reader, signer, cose.Headers{Protected: cose.ProtectedHeader{
		cose.HeaderLabelAlgorithm: cose.AlgorithmEdDSA, cose.HeaderLabelContentType: ctAck, cose.HeaderLabelKeyID: kid[:],
	}}, payload, nil)
	if err != nil {
		return nil, fmt.Errorf("exporter: signing acknowledgement: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemAck, Bytes: msg}), nil
}

// checkAckJSON checks an acknowledgement's own consistency (both when signing and reading).
func checkAckJSON(a *ackJSON) error {
	bad := func(format string, args ...any) error {
		return malformed("acknowledgement: %s", fmt.Sprintf(format, args...))
	}
	if seq, err := strconv.ParseUint(a.AckSeq, 10, 64); err != nil || seq == 0 || strconv.FormatUint(seq, 10) != a.AckSeq {
		return bad("ack_seq is not a decimal number ≥ 1")
	}
	if seq, err := strconv.ParseUint(a.BundleSeq, 10, 64); err != nil || strconv.FormatUint(seq, 10) != a.BundleSeq {
		return bad("bundle_seq is not a decimal number")
	}
	if !validID.MatchString(a.BundleID) {
		return coded(CodeBadID, ErrMalformed, "acknowledgement: bundle ID")
	}
	if !validFreeText(a.Detail) {
		return bad("detail is not printable text of at most 200 bytes")
	}
	for _, id := range a.Accepted {
		if !validID.MatchString(id) {
			return coded(CodeBadID, ErrMalformed, "acknowledgement: enrollment ID %q", id)
		}
	}
	for _, r := range a.Rejected {
		if !validID.MatchString(r.EnrollmentID) {
			return coded(CodeBadID, ErrMalformed, "acknowledgement: enrollment ID %q", r.EnrollmentID)
		}
		if !slices.Contains(RecordRefusalReasons, r.Reason) || !validFreeText(r.Detail) {
			return bad("record %s: refusal reason is not a record refusal code, or the detail is not printable text", r.EnrollmentID)
		}
	}
	switch a.Kind {
	case AckPositive:
		if a.Reason != "" || a.Detail != "" {
			return bad("a positive acknowledgement has no reason or detail")
		}
	case AckNegative:
		if !slices.Contains(BundleRefusalReasons, a.Reason) {
			return bad("a negative acknowledgement needs a bundle refusal reason code")
		}
		if len(a.Accepted) != 0 || len(a.Rejected) != 0 {
			return bad("a negative acknowledgement names no records")
		}
	default:
		return bad("kind is neither %q nor %q", AckPositive, AckNegative)
	}
	return nil
}

// ParseAck reads an acknowledgement file and checks its signature with the issuer public
// key the station was provisioned with, then its form. The caller must still check it
// against the bundle it names (CheckAck) and its sequence against the last one imported.
func ParseAck(b []byte, issuer *IssuerPublicKey) (*Ack, error) {
	if len(b) > maxAck {
		return nil, fmt.Errorf("exporter: acknowledgement is %d bytes: %w", len(b), ErrTooLarge)
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != pemAck || len(bytes.TrimSpace(rest)) != 0 || len(block.Headers) != 0 {
		return nil, malformed("acknowledgement: want one PEM block %q without headers", pemAck)
	}
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(block.Bytes); err != nil {
		return nil, malformed("acknowledgement: not a COSE_Sign1 message: %v", err)
	}
	if alg, err := m.Headers.Protected.Algorithm(); err != nil || alg != cose.AlgorithmEdDSA {
		return nil, fmt.Errorf("exporter: acknowledgement must be signed with EdDSA: %w", ErrUnsupported)
	}
	if ct := m.Headers.Protected[cose.HeaderLabelContentType]; ct != ctAck {
		return nil, malformed("acknowledgement: content type %v", ct)
	}
	v, err := cose.NewVerifier(cose.AlgorithmEdDSA, issuer.sig)
	if err != nil {
		return nil, fmt.Errorf("exporter: acknowledgement verifier: %v: %w", err, ErrBadKey)
	}
	if err := m.Verify(nil, v); err != nil {
		return nil, &SignatureError{What: "acknowledgement", Err: err}
	}
	var a ackJSON
	if err := decodeStrict(m.Payload, &a); err != nil {
		return nil, fmt.Errorf("exporter: acknowledgement: %w: %w", err, ErrMalformed)
	}
	kid := issuer.KeyID()
	if a.Format != ackFormat {
		return nil, fmt.Errorf("exporter: acknowledgement format %q (this program reads %s): %w", a.Format, ackFormat, ErrUnsupported)
	}
	if a.IssuerKeyID != hex.EncodeToString(kid[:]) {
		return nil, fmt.Errorf("exporter: acknowledgement names issuer key %s: %w", a.IssuerKeyID, ErrWrongIssuer)
	}
	if err := checkAckJSON(&a); err != nil {
		return nil, err
	}
	out := &Ack{Kind: a.Kind, BundleID: a.BundleID, Accepted: a.Accepted, Rejected: a.Rejected, Reason: a.Reason, Detail: a.Detail}
	out.Seq, _ = strconv.ParseUint(a.AckSeq, 10, 64)
	out.BundleSeq, _ = strconv.ParseUint(a.BundleSeq, 10, 64)
	if err := decodeHex32(a.BundleSHA256, &out.BundleSHA256); err != nil {
		return nil, coded(CodeBadHex, ErrMalformed, "acknowledgement: bundle hash")
	}
	if err := decodeHex32(a.StationID, &out.StationID); err != nil {
		return nil, coded(CodeBadHex, ErrMalformed, "acknowledgement: station ID")
	}
	if out.Created, err = parseTime(a.Created); err != nil {
		return nil, coded(CodeBadTime, ErrMalformed, "acknowledgement: created")
	}
	return out, nil
}

// CheckAck checks an acknowledgement against what the station knows: the bundle it names
// (records: its enrollment IDs) and the sequence of the last acknowledgement imported
// (lastSeq, 0 for none). A positive acknowledgement must account for every record
// exactly once, accepted or refused (accepted ∪ refused = records), and name no other;
// every acknowledgement's sequence must be greater than lastSeq, so none is replayed.
func CheckAck(a *Ack, records []string, lastSeq uint64) error {
	if a.Seq <= lastSeq {
		return coded(CodeAckReplay, ErrReplay, "acknowledgement %d of bundle %s: sequence is not after %d, the last imported", a.Seq, a.BundleID, lastSeq)
	}
	if a.Kind == AckNegative {
		return nil
	}
	want := make(map[string]bool, len(records))
	for _, id := range records {
		want[id] = true
	}
	seen := make(map[string]bool, len(records))
	note := func(id string) error {
		if !want[id] || seen[id] {
			return coded(CodeAckExtra, ErrMalformed, "acknowledgement of bundle %s names %s, which is not a record of it or is named twice", a.BundleID, id)
		}
		seen[id] = true
		return nil
	}
	for _, id := range a.Accepted {
		if err := note(id); err != nil {
			return err
		}
	}
	for _, r := range a.Rejected {
		if err := note(r.EnrollmentID); err != nil {
			return err
		}
	}
	if len(seen) != len(want) {
		return coded(CodeAckIncomplete, ErrMissingRecord, "acknowledgement of bundle %s accounts for %d of its %d records", a.BundleID, len(seen), len(want))
	}
	return nil
}
