package exporter

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"time"

	"github.com/veraison/go-cose"
)

const (
	pemAck    = "ENROLLSTATION ACKNOWLEDGEMENT"
	ackFormat = "enrollstation-ack/1"
	ctAck     = "application/vnd.enrollstation.ack+json"
	maxAck    = 16 << 20
)

// Ack is an issuer's signed acknowledgement of one bundle.
type Ack struct {
	BundleID     string
	BundleSHA256 [32]byte
	StationID    [32]byte
	Accepted     []string // enrollment IDs the issuer has taken over
	Rejected     []Rejection
	Created      time.Time
}

// Rejection is a record the issuer refuses, with its reason.
type Rejection struct {
	EnrollmentID string `json:"enrollment_id"`
	Reason       string `json:"reason"`
}

type ackJSON struct {
	Format       string      `json:"format"`
	BundleID     string      `json:"bundle_id"`
	BundleSHA256 string      `json:"bundle_sha256"`
	StationID    string      `json:"station_id"`
	IssuerKeyID  string      `json:"issuer_key_id"`
	Accepted     []string    `json:"accepted"`
	Rejected     []Rejection `json:"rejected"`
	Created      string      `json:"created"`
}

// MakeAck signs an acknowledgement of a verified bundle with the issuer key: every record
// is accepted except those in rejected (enrollment ID → reason).
func MakeAck(issuer *IssuerPrivateKey, b *Bundle, rejected map[string]string, now time.Time) ([]byte, error) {
	kid := issuer.pub.KeyID()
	a := ackJSON{Format: ackFormat, BundleID: b.ID, BundleSHA256: hex.EncodeToString(b.SHA256[:]),
		StationID: hex.EncodeToString(b.StationID[:]), IssuerKeyID: hex.EncodeToString(kid[:]),
		Accepted: []string{}, Rejected: []Rejection{}, Created: fmtTime(now)}
	for _, r := range b.Records {
		if reason, ok := rejected[r.EnrollmentID]; ok {
			a.Rejected = append(a.Rejected, Rejection{EnrollmentID: r.EnrollmentID, Reason: reason})
		} else {
			a.Accepted = append(a.Accepted, r.EnrollmentID)
		}
	}
	payload, err := canonicalJSON(a)
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
	return pem.EncodeToMemory(&pem.Block{Type: pemAck, Headers: map[string]string{"Bundle": b.ID}, Bytes: msg}), nil
}

// ParseAck reads an acknowledgement file and checks its signature with the issuer public
// key the station was provisioned with. The caller must still check that BundleSHA256 is a
// bundle it exported and StationID is its own before marking records acknowledged.
func ParseAck(b []byte, issuer *IssuerPublicKey) (*Ack, error) {
	if len(b) > maxAck {
		return nil, fmt.Errorf("exporter: acknowledgement is %d bytes: %w", len(b), ErrTooLarge)
	}
	block, rest := pem.Decode(b)
	if block == nil || block.Type != pemAck || len(bytes.TrimSpace(rest)) != 0 {
		return nil, malformed("acknowledgement: want one PEM block %q", pemAck)
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
		return nil, malformed("acknowledgement: %v", err)
	}
	kid := issuer.KeyID()
	if a.Format != ackFormat {
		return nil, fmt.Errorf("exporter: acknowledgement format %q: %w", a.Format, ErrUnsupported)
	}
	if a.IssuerKeyID != hex.EncodeToString(kid[:]) {
		return nil, fmt.Errorf("exporter: acknowledgement names issuer key %s: %w", a.IssuerKeyID, ErrWrongIssuer)
	}
	out := &Ack{BundleID: a.BundleID, Accepted: a.Accepted, Rejected: a.Rejected}
	if err := decodeHex32(a.BundleSHA256, &out.BundleSHA256); err != nil {
		return nil, malformed("acknowledgement: bundle hash: %v", err)
	}
	if err := decodeHex32(a.StationID, &out.StationID); err != nil {
		return nil, malformed("acknowledgement: station ID: %v", err)
	}
	if out.Created, err = parseTime(a.Created); err != nil {
		return nil, malformed("acknowledgement: created: %v", err)
	}
	for _, id := range a.Accepted {
		if !validID.MatchString(id) {
			return nil, malformed("acknowledgement: enrollment ID %q", id)
		}
	}
	for _, r := range a.Rejected {
		if !validID.MatchString(r.EnrollmentID) {
			return nil, malformed("acknowledgement: enrollment ID %q", r.EnrollmentID)
		}
	}
	return out, nil
}

func decodeHex32(s string, out *[32]byte) error {
	b, err := hex.DecodeString(s)
	if err != nil {
		return err
	}
	if len(b) != 32 || hex.EncodeToString(b) != s {
		return fmt.Errorf("want 64 lowercase hex digits")
	}
	copy(out[:], b)
	return nil
}
