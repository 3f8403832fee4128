package exporter

import (
	"crypto"
	"crypto/ecdsa"
	"encoding/hex"
	"fmt"
	"io"
	"regexp"

	"github.com/veraison/go-cose"

	"enrollstation/exporter/internal/format"
	"enrollstation/exporter/internal/jsonprofile"
	"enrollstation/exporter/internal/stream"
)

// Format constants; docs/bundle-format.md is the specification. Build writes version 2;
// Open reads versions 1 and 2.
const (
	magic         = format.Magic
	formatVersion = 2
	formatV1      = 1

	preambleSize = format.PreambleSize

	chunkSize = stream.ChunkSize
	tagSize   = stream.TagSize

	// Limits on lengths read from a bundle before anything is authenticated.
	maxHeaderSize  = 16 << 10
	maxTrailerSize = 4 << 10
	maxPlaintext   = 1 << 40 // 1 TiB: far beyond any batch, well within int64 arithmetic

	headerFormat   = "enrollstation-bundle-header/2"
	trailerFormat  = "enrollstation-bundle-trailer/2"
	manifestFormat = "enrollstation-bundle-manifest/2"

	// COSE content types keep the three signed objects apart.
	ctHeader   = "application/vnd.enrollstation.bundle-header+json"
	ctTrailer  = "application/vnd.enrollstation.bundle-trailer+json"
	ctManifest = "application/vnd.enrollstation.bundle-manifest+json"

	hpkeInfo = "enrollstation bundle v2"

	// FileExt is the file name extension of a bundle.
	FileExt = ".esb"
)

// versionInfo is what differs between the format versions a reader accepts.
type versionInfo struct{ header, trailer, manifest, hpkeInfo string }

var versions = map[uint16]versionInfo{
	formatV1:      {"enrollstation-bundle-header/1", "enrollstation-bundle-trailer/1", "enrollstation-bundle-manifest/1", "enrollstation bundle v1"},
	formatVersion: {headerFormat, trailerFormat, manifestFormat, hpkeInfo},
}

// header is the cleartext header, signed by the station and bound into every chunk's AAD.
type header struct {
	Format           string `json:"format"`
	BundleID         string `json:"bundle_id"`
	StationID        string `json:"station_id"`    // hex SHA-256 of the station PKIX public key
	IssuerKeyID      string `json:"issuer_key_id"` // hex SHA-256 of the issuer public key
	KEM              uint16 `json:"kem"`
	KDF              uint16 `json:"kdf"`
	AEAD             uint16 `json:"aead"`
	Enc              []byte `json:"enc"` // HPKE encapsulated key, base64
	ChunkSize        int64  `json:"chunk_size"`
	PlaintextLength  int64  `json:"plaintext_length"`
	CiphertextLength int64  `json:"ciphertext_length"`
	Created          string `json:"created"`
}

// trailer closes the bundle: the ciphertext hash is only known once it has been written.
type trailer struct {
	Format           string `json:"format"`
	BundleID         string `json:"bundle_id"`
	HeaderSHA256     string `json:"header_sha256"`
	CiphertextLength int64  `json:"ciphertext_length"`
	BodySHA256       string `json:"body_sha256"` // of every byte before the trailer length
}

type manifest struct {
	Format           string           `json:"format"`
	BundleID         string           `json:"bundle_id"`
	StationID        string           `json:"station_id"`
	Seq              string           `json:"seq"` // decimal: TPM counters may exceed 2^53
	PrevBundleSHA256 string           `json:"prev_bundle_sha256"`
	Created          string           `json:"created"`
	Batch            manifestBatch    `json:"batch"`
	Audit            manifestAudit    `json:"audit_checkpoint"`
	Records          []manifestRecord `json:"records"`
	// Version 2 only (absent in version 1): the station's registered supervisor keys and
	// the issuer-key changes since the previous bundle.
	Roster           *[]rosterJSON          `json:"roster,omitempty"`
	IssuerKeyChanges *[]issuerKeyChangeJSON `json:"issuer_key_changes,omitempty"`
}

type manifestBatch struct {
	ID            string   `json:"id"`
	ClosedAt      string   `json:"closed_at"`
	EnrollmentIDs []string `json:"enrollment_ids"`
}

type manifestAudit struct {
	Seq       string `json:"seq"`
	Hash      []byte `json:"hash"`
	Signature []byte `json:"signature"`
}

type manifestRecord struct {
	EnrollmentID    string           `json:"enrollment_id"`
	TemplateModel   string           `json:"template_model"`
	TemplateVersion string           `json:"template_version"`
	Members         []manifestMember `json:"members"`
}

type manifestMember struct {
	Name   string `json:"name"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// validID is what enrollment, batch and bundle IDs may look like: they become file names.
var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$`)

// validOperator is what a supervisor or operator ID may look like (at most 64 bytes of
// UTF-8, checked apart): no control characters or '/', no space at either end.
var validOperator = regexp.MustCompile(`^[^\x00-\x20\x7F/]([^\x00-\x1F\x7F/]*[^\x00-\x20\x7F/])?$`)

func validOperatorID(s string) bool { return len(s) <= 64 && validOperator.MatchString(s) }

// validText is free text a reader prints: no control characters, at most 200 bytes.
var validText = regexp.MustCompile(`^[^\x00-\x1F\x7F]*$`)

func validFreeText(s string) bool { return len(s) <= 200 && validText.MatchString(s) }

// hex64 is a SHA-256 in the bundle's spelling: 64 lowercase hex digits.
var hex64 = regexp.MustCompile(`^[0-9a-f]{64}$`)

// sealedLength is the ciphertext length for a plaintext of n bytes.
func sealedLength(n int64) int64 { return stream.SealedLength(n) }

func sign1(rand io.Reader, s crypto.Signer, contentType string, kid []byte, payload []byte) ([]byte, error) {
	return format.Sign1(rand, s, contentType, kid, payload)
}

func parseSign1(b []byte, contentType, what string) (*cose.Sign1Message, error) {
	return format.ParseSign1(b, contentType, what)
}

func verifySign1(m *cose.Sign1Message, pub *ecdsa.PublicKey, what string) error {
	return format.VerifySign1(m, pub, what)
}

// decodeStrict reads signed JSON under the reader profile (docs/bundle-format.md, "JSON
// profile"): exact-case names, no duplicates, no unknown members, canonical RFC 8785 form
// and every member present (the bytes re-encode to themselves).
func decodeStrict(b []byte, v any) error { return jsonprofile.DecodeExact(b, v) }

// decodeHex32 reads 64 lowercase hex digits.
func decodeHex32(s string, out *[32]byte) error {
	if !hex64.MatchString(s) {
		return fmt.Errorf("want 64 lowercase hex digits")
	}
	_, err := hex.Decode(out[:], []byte(s))
	return err
}
