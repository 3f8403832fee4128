// Package format is the bundle's outer framing (docs/bundle-format.md, "File layout"):
// the preamble (magic, version, header length) and the COSE_Sign1 envelopes of the
// station-signed header, manifest and trailer.
package format

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"

	"github.com/veraison/go-cose"

	"enrollstation/exporter/internal/errs"
)

// Magic starts every bundle.
const Magic = "ESBUNDLE"

// PreambleSize is the length of magic, u16 version and u32 header length.
const PreambleSize = len(Magic) + 2 + 4

// Preamble returns the preamble of a bundle of this version whose signed header is
// headerLen bytes.
func Preamble(version uint16, headerLen int) []byte {
	pre := make([]byte, PreambleSize)
	copy(pre, Magic)
	binary.BigEndian.PutUint16(pre[8:], version)
	binary.BigEndian.PutUint32(pre[10:], uint32(headerLen))
	return pre
}

// ReadPreamble reads the preamble and returns the version and header length, refusing a
// header longer than maxHeader (ErrTooLarge) or empty. The caller checks the version.
func ReadPreamble(r io.Reader, maxHeader uint32) (version uint16, headerLen uint32, err error) {
	pre := make([]byte, PreambleSize)
	if err := errs.ReadFull(r, pre, "preamble"); err != nil {
		return 0, 0, err
	}
	if string(pre[:len(Magic)]) != Magic {
		return 0, 0, errs.Malformed("not a bundle (bad magic)")
	}
	version = binary.BigEndian.Uint16(pre[8:])
	headerLen = binary.BigEndian.Uint32(pre[10:])
	if headerLen == 0 || headerLen > maxHeader {
		return version, 0, fmt.Errorf("exporter: header length %d (limit %d): %w", headerLen, maxHeader, errs.ErrTooLarge)
	}
	return version, headerLen, nil
}

// es256Signer adapts a crypto.Signer (e.g. a TPM key) to COSE ES256, passing crypto.SHA256
// as the signer options, which TPM-backed signers need.
type es256Signer struct{ s crypto.Signer }

func (es256Signer) Algorithm() cose.Algorithm { return cose.AlgorithmES256 }

func (e es256Signer) Sign(rand io.Reader, content []byte) ([]byte, error) {
	d := sha256.Sum256(content)
	der, err := e.s.Sign(rand, d[:], crypto.SHA256)
	if err != nil {
		return nil, err
	}
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 {
		return nil, fmt.Errorf("signer returned a malformed ECDSA signature")
	}
	if sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
		return nil, fmt.Errorf("signer returned an out-of-range ECDSA signature")
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// Sign1 wraps payload in a COSE_Sign1 signed with ES256.
func Sign1(rand io.Reader, s crypto.Signer, contentType string, kid []byte, payload []byte) ([]byte, error) {
	hdr := cose.Headers{Protected: cose.ProtectedHeader{
		cose.HeaderLabelAlgorithm:   cose.AlgorithmES256,
		cose.HeaderLabelContentType: contentType,
		cose.HeaderLabelKeyID:       kid,
	}}
	return cose.Sign1(rand, es256Signer{s}, hdr, payload, nil)
}

// ParseSign1 decodes a COSE_Sign1 and returns the message and its (unverified) payload,
// checking the algorithm and content type.
func ParseSign1(b []byte, contentType, what string) (*cose.Sign1Message, error) {
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(b); err != nil {
		return nil, errs.Malformed("%s: not a COSE_Sign1 message: %v", what, err)
	}
	alg, err := m.Headers.Protected.Algorithm()
	if err != nil || alg != cose.AlgorithmES256 {
		return nil, fmt.Errorf("exporter: %s: signature algorithm must be ES256: %w", what, errs.ErrUnsupported)
	}
	if ct, ok := m.Headers.Protected[cose.HeaderLabelContentType]; !ok || ct != contentType {
		return nil, errs.Malformed("%s: content type %v, want %s", what, ct, contentType)
	}
	if m.Payload == nil {
		return nil, errs.Malformed("%s: detached payload", what)
	}
	return &m, nil
}

// VerifySign1 checks m's ES256 signature under pub.
func VerifySign1(m *cose.Sign1Message, pub *ecdsa.PublicKey, what string) error {
	v, err := cose.NewVerifier(cose.AlgorithmES256, pub)
	if err != nil {
		return fmt.Errorf("exporter: %s: %v: %w", what, err, errs.ErrBadKey)
	}
	if err := m.Verify(nil, v); err != nil {
		return &errs.SignatureError{What: what, Err: err}
	}
	return nil
}
