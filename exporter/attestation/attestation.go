// Package attestation is the issuer's side of station registration: it reads a
// station's attestation (station.att: EK certificate chain, attestation key,
// certifications of the station and supervisor keys), checks it against the TPM
// manufacturers' CA certificates the issuer trusts, runs the TPM credential-activation
// challenge (TPM2_MakeCredential for the attestation key's name under the EK) and
// writes the station registration (station.reg) that `enrollstation verify` uses.
// The file formats are specified in docs/bundle-format.md, "Station registration".
//
// TPM structures are read and built with go-tpm's tpm2 package (TPMS_ATTEST,
// TPMT_PUBLIC, names, CreateCredential), certificates with crypto/x509.
package attestation

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/google/go-tpm/tpm2"
)

// Sentinel errors; every error of this package wraps one. Reason gives its stable code.
var (
	ErrMalformed      = errors.New("malformed attestation file")
	ErrEKUntrusted    = errors.New("the EK certificate is not issued by a TPM manufacturer CA the issuer trusts")
	ErrEKMismatch     = errors.New("the endorsement key does not match its certificate")
	ErrBadAK          = errors.New("the attestation key is not a restricted signing key resident in a TPM")
	ErrNotCertified   = errors.New("key not certified by the TPM")
	ErrSoftwareTPM    = errors.New("the station's TPM is a software TPM")
	ErrActivation     = errors.New("the credential-activation answer is wrong")
	ErrWrongStation   = errors.New("the file belongs to another station")
	ErrNotRegistered  = errors.New("key not registered for this station")
	errUnknownVersion = errors.New("unsupported file format")
)

// Reason is the stable reason code of an error from this package ("error" otherwise).
func Reason(err error) string {
	for _, c := range []struct {
		err  error
		code string
	}{
		{ErrEKUntrusted, "ek-untrusted"}, {ErrEKMismatch, "ek-mismatch"}, {ErrBadAK, "bad-attestation-key"},
		{ErrNotCertified, "key-not-certified"}, {ErrSoftwareTPM, "software-tpm"},
		{ErrActivation, "activation-failed"}, {ErrWrongStation, "wrong-station"},
		{ErrNotRegistered, "unregistered-key"}, {errUnknownVersion, "unsupported"}, {ErrMalformed, "malformed"},
	} {
		if errors.Is(err, c.err) {
			return c.code
		}
	}
	return "error"
}

// Format identifiers.
const (
	FormatAttestation  = "enrollstation-station-attestation/1"
	FormatChallenge    = "enrollstation-activation-challenge/1"
	FormatAnswer       = "enrollstation-activation-answer/1"
	FormatPending      = "enrollstation-pending-registration/1"
	FormatRegistration = "enrollstation-station-registration/1"
)

// Roles of certified keys.
const (
	RoleStation    = "station"
	RoleSupervisor = "supervisor"
)

// QualifyingData is the extra data a key certification carries (TPMS_ATTEST
// extraData), binding the TPM's statement to the key's role and ID:
// SHA-256("enrollstation key certification v1" 0x00 role 0x00 id).
func QualifyingData(role, id string) []byte {
	h := sha256.New()
	h.Write([]byte("enrollstation key certification v1\x00" + role + "\x00" + id))
	return h.Sum(nil)
}

// TPMInfo is what the station's TPM says about itself (unauthenticated, informational).
type TPMInfo struct {
	Manufacturer string `json:"manufacturer"`
	Firmware     string `json:"firmware"`
}

// Attestation is station.att. Byte fields are base64 in JSON.
type Attestation struct {
	Format         string    `json:"format"`
	StationID      string    `json:"station_id"`
	TPM            TPMInfo   `json:"tpm"`
	EKCertificates [][]byte  `json:"ek_certificates"` // DER; the EK certificate first
	EKPublic       []byte    `json:"ek_public"`       // TPMT_PUBLIC
	AKPublic       []byte    `json:"ak_public"`       // TPMT_PUBLIC
	Keys           []Key     `json:"keys"`
	Created        time.Time `json:"created"`
}

// Key is one key certified by the attestation key.
type Key struct {
	Role        string `json:"role"`        // RoleStation or RoleSupervisor
	ID          string `json:"id"`          // station ID or supervisor name
	Public      []byte `json:"public"`      // TPMT_PUBLIC
	Attestation []byte `json:"attestation"` // TPMS_ATTEST (TPM2_Certify or TPM2_CertifyCreation)
	Signature   []byte `json:"signature"`   // TPMT_SIGNATURE by the attestation key
}

// Challenge is challenge.bin, the issuer's credential-activation challenge.
type Challenge struct {
	Format          string `json:"format"`
	StationID       string `json:"station_id"`
	AKName          []byte `json:"ak_name"`          // TPM2B_NAME contents of the attestation key
	CredentialBlob  []byte `json:"credential_blob"`  // TPM2B_ID_OBJECT contents
	EncryptedSecret []byte `json:"encrypted_secret"` // TPM2B_ENCRYPTED_SECRET contents
}

// Answer is answer.bin, the station's reply: the credential its TPM released.
type Answer struct {
	Format    string `json:"format"`
	StationID string `json:"station_id"`
	Secret    []byte `json:"secret"`
}

// Pending is pending.reg: a registration awaiting the activation answer. It holds only
// a hash of the secret.
type Pending struct {
	Format       string       `json:"format"`
	SecretSHA256 string       `json:"secret_sha256"`
	Registration Registration `json:"registration"`
}

// Registration is station.reg, the issuer's record of a verified station.
type Registration struct {
	Format         string          `json:"format"`
	StationID      string          `json:"station_id"`
	StationKey     []byte          `json:"station_key"`     // PKIX DER, ECDSA P-256
	AttestationKey []byte          `json:"attestation_key"` // TPMT_PUBLIC, for later certifications
	SupervisorKeys []SupervisorKey `json:"supervisor_keys"`
	TPM            RegisteredTPM   `json:"tpm"`
	// AcceptedSoftwareTPM records that the issuer chose to accept a software TPM.
	AcceptedSoftwareTPM bool      `json:"accepted_software_tpm"`
	Registered          time.Time `json:"registered"`
}

// SupervisorKey is a supervisor approval key the TPM certified.
type SupervisorKey struct {
	ID  string `json:"id"`
	Key []byte `json:"key"` // PKIX DER, ECDSA P-256
}

// RegisteredTPM is what the EK certificate says about the TPM.
type RegisteredTPM struct {
	Kind                string `json:"kind"` // "hardware" or "software"
	Manufacturer        string `json:"manufacturer"`
	Model               string `json:"model"`
	Version             string `json:"version"`
	EKCertificateSHA256 string `json:"ek_certificate_sha256"`
	CA                  string `json:"ca"` // subject of the trusted root the chain ends in
}

// strict is the JSON profile for reading these files: exact-case names, no duplicate
// or unknown members (go-json-experiment's defaults plus RejectUnknownMembers).
func unmarshal(b []byte, v any, format string, got func() string) error {
	if err := json.Unmarshal(b, v, json.RejectUnknownMembers(true)); err != nil {
		return fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if f := got(); f != format {
		return fmt.Errorf("%w: format %q, want %q", errUnknownVersion, f, format)
	}
	return nil
}

func marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v, json.Deterministic(true))
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// ParseAttestation reads station.att.
func ParseAttestation(b []byte) (*Attestation, error) {
	var a Attestation
	if err := unmarshal(b, &a, FormatAttestation, func() string { return a.Format }); err != nil {
		return nil, fmt.Errorf("attestation: station.att: %w", err)
	}
	return &a, nil
}

// Marshal writes a as station.att.
func (a *Attestation) Marshal() ([]byte, error) { a.Format = FormatAttestation; return marshal(a) }

// ParseChallenge reads challenge.bin.
func ParseChallenge(b []byte) (*Challenge, error) {
	var c Challenge
	if err := unmarshal(b, &c, FormatChallenge, func() string { return c.Format }); err != nil {
		return nil, fmt.Errorf("attestation: challenge: %w", err)
	}
	return &c, nil
}

// Marshal writes c as challenge.bin.
func (c *Challenge) Marshal() ([]byte, error) { c.Format = FormatChallenge; return marshal(c) }

// ParseAnswer reads answer.bin.
func ParseAnswer(b []byte) (*Answer, error) {
	var a Answer
	if err := unmarshal(b, &a, FormatAnswer, func() string { return a.Format }); err != nil {
		return nil, fmt.Errorf("attestation: answer: %w", err)
	}
	return &a, nil
}

// Marshal writes a as answer.bin.
func (a *Answer) Marshal() ([]byte, error) { a.Format = FormatAnswer; return marshal(a) }

// ParsePending reads pending.reg.
func ParsePending(b []byte) (*Pending, error) {
	var p Pending
	if err := unmarshal(b, &p, FormatPending, func() string { return p.Format }); err != nil {
		return nil, fmt.Errorf("attestation: pending registration: %w", err)
	}
	return &p, nil
}

// Marshal writes p as pending.reg.
func (p *Pending) Marshal() ([]byte, error) { p.Format = FormatPending; return marshal(p) }

// ParseRegistration reads station.reg and checks it is usable: its station key is a
// P-256 key whose ID is the station ID, and a software TPM was explicitly accepted.
func ParseRegistration(b []byte) (*Registration, error) {
	var r Registration
	if err := unmarshal(b, &r, FormatRegistration, func() string { return r.Format }); err != nil {
		return nil, fmt.Errorf("attestation: station registration: %w", err)
	}
	if _, err := r.StationPublicKey(); err != nil {
		return nil, err
	}
	if r.TPM.Kind != "hardware" && !r.AcceptedSoftwareTPM {
		return nil, fmt.Errorf("attestation: station registration: %w (%s %s) and was not accepted", ErrSoftwareTPM, r.TPM.Manufacturer, r.TPM.Model)
	}
	return &r, nil
}

// Marshal writes r as station.reg.
func (r *Registration) Marshal() ([]byte, error) { r.Format = FormatRegistration; return marshal(r) }

// StationPublicKey is the registered station signing key.
func (r *Registration) StationPublicKey() (*ecdsa.PublicKey, error) {
	pub, err := parseP256(r.StationKey)
	if err != nil {
		return nil, fmt.Errorf("attestation: station registration: station key: %w", err)
	}
	if id := keyID(r.StationKey); id != r.StationID {
		return nil, fmt.Errorf("attestation: station registration: %w: station key has ID %s, not %s", ErrMalformed, id, r.StationID)
	}
	return pub, nil
}

// Supervisor returns the supervisor whose registered approval key is der (PKIX DER).
func (r *Registration) Supervisor(der []byte) (string, error) {
	for _, k := range r.SupervisorKeys {
		if bytes.Equal(k.Key, der) {
			return k.ID, nil
		}
	}
	return "", fmt.Errorf("attestation: approval key %s…: %w", keyID(der)[:16], ErrNotRegistered)
}

func parseP256(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: not an ECDSA P-256 key", ErrMalformed)
	}
	return ek, nil
}

// keyID is hex SHA-256 of PKIX DER: the station ID of a station key.
func keyID(der []byte) string {
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:])
}

// publicArea reads a TPMT_PUBLIC.
func publicArea(b []byte, what string) (*tpm2.TPMTPublic, error) {
	p, err := tpm2.Unmarshal[tpm2.TPMTPublic](b)
	if err != nil {
		return nil, fmt.Errorf("attestation: %s: %w: bad TPMT_PUBLIC: %v", what, ErrMalformed, err)
	}
	if !bytes.Equal(tpm2.Marshal(p), b) {
		return nil, fmt.Errorf("attestation: %s: %w: trailing bytes after TPMT_PUBLIC", what, ErrMalformed)
	}
	return p, nil
}
