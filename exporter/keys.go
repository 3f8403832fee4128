package exporter

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
)

// Issuer key files (written since format v2) are RFC 7468 text: a line of explanatory
// text giving the fingerprint, then two standard blocks. issuer.pub holds two
// "PUBLIC KEY" blocks (PKIX SubjectPublicKeyInfo, RFC 5280): the X-Wing KEM key
// (ML-KEM-768+X25519, OID 1.3.6.1.4.1.62253.25722, the 1216-byte key as the BIT STRING)
// and the Ed25519 key (RFC 8410). issuer.key holds two "PRIVATE KEY" blocks (PKCS#8,
// RFC 5208/5958): the X-Wing key (same OID, the 32-byte seed as the OCTET STRING) and the
// Ed25519 key (RFC 8410). Blocks carry no headers.
//
// Files of the earlier form are still read: one PEM block with informational headers,
//
//	-----BEGIN ENROLLSTATION ISSUER PUBLIC KEY-----
//	KEM: MLKEM768-X25519
//	Signature: Ed25519
//	Fingerprint: 3f2a 91bc ...
//
//	base64 of: ML-KEM-768+X25519 public key (1216 bytes) || Ed25519 public key (32 bytes)
//	-----END ENROLLSTATION ISSUER PUBLIC KEY-----
//
// The private key block "ENROLLSTATION ISSUER PRIVATE KEY" holds the 32-byte HPKE private
// key (RFC 9180 SerializePrivateKey) followed by the 32-byte Ed25519 seed. The KEM key
// decrypts bundles; the Ed25519 key signs acknowledgements.
const (
	pemIssuerPublic  = "ENROLLSTATION ISSUER PUBLIC KEY"
	pemIssuerPrivate = "ENROLLSTATION ISSUER PRIVATE KEY"

	kemName = "MLKEM768-X25519"
	sigName = "Ed25519"

	kemPublicSize  = 1216
	kemPrivateSize = 32
)

// The HPKE ciphersuite of format v1.
var (
	suiteKEM  = hpke.MLKEM768X25519()
	suiteKDF  = hpke.HKDFSHA256()
	suiteAEAD = hpke.AES256GCM()
)

// IssuerPublicKey is what a station encrypts bundles to and checks acknowledgements with.
type IssuerPublicKey struct {
	kem hpke.PublicKey
	sig ed25519.PublicKey
	raw []byte // kem || sig, what the fingerprint covers
}

// IssuerPrivateKey decrypts bundles and signs acknowledgements.
type IssuerPrivateKey struct {
	kem hpke.PrivateKey
	sig ed25519.PrivateKey
	pub *IssuerPublicKey
}

// GenerateIssuerKey makes a new issuer key pair.
func GenerateIssuerKey() (*IssuerPrivateKey, error) {
	var seed [64]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("exporter: generating issuer key: %w", err)
	}
	return issuerKeyFromSeed(seed)
}

// issuerKeyFromSeed derives an issuer key pair deterministically (test vectors).
func issuerKeyFromSeed(seed [64]byte) (*IssuerPrivateKey, error) {
	k, err := suiteKEM.DeriveKeyPair(seed[:32])
	if err != nil {
		return nil, fmt.Errorf("exporter: deriving issuer KEM key: %w", err)
	}
	return newIssuerPrivate(k, ed25519.NewKeyFromSeed(seed[32:]))
}

func newIssuerPrivate(k hpke.PrivateKey, s ed25519.PrivateKey) (*IssuerPrivateKey, error) {
	pub, err := newIssuerPublic(k.PublicKey().Bytes(), s.Public().(ed25519.PublicKey))
	if err != nil {
		return nil, err
	}
	return &IssuerPrivateKey{kem: k, sig: s, pub: pub}, nil
}

func newIssuerPublic(kemPub []byte, sigPub ed25519.PublicKey) (*IssuerPublicKey, error) {
	k, err := suiteKEM.NewPublicKey(kemPub)
	if err != nil {
		return nil, fmt.Errorf("exporter: issuer KEM public key: %v: %w", err, ErrBadKey)
	}
	raw := append(append([]byte{}, kemPub...), sigPub...)
	return &IssuerPublicKey{kem: k, sig: sigPub, raw: raw}, nil
}

// Public returns the public half.
func (k *IssuerPrivateKey) Public() *IssuerPublicKey { return k.pub }

// KeyID is the SHA-256 of the public key bytes (KEM key || Ed25519 key).
func (k *IssuerPublicKey) KeyID() [32]byte { return sha256.Sum256(k.raw) }

// Fingerprint is KeyID as lowercase hex in 16 groups of four, for people to compare.
func (k *IssuerPublicKey) Fingerprint() string { return Fingerprint(k.KeyID()) }

// Equal reports whether two public keys are the same.
func (k *IssuerPublicKey) Equal(o *IssuerPublicKey) bool {
	return o != nil && bytes.Equal(k.raw, o.raw)
}

// Fingerprint formats a key ID as lowercase hex in groups of four separated by spaces.
func Fingerprint(id [32]byte) string {
	h := hex.EncodeToString(id[:])
	var b strings.Builder
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// oidXWing is X-Wing's object identifier (draft-connolly-cfrg-xwing-kem).
var oidXWing = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 62253, 25722}

type spki struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

type pkcs8 struct {
	Version    int
	Algorithm  pkix.AlgorithmIdentifier
	PrivateKey []byte
}

func fingerprintText(fp string) []byte {
	return []byte("Enrollstation issuer key (X-Wing KEM, Ed25519 signatures)\nFingerprint: " + fp + "\n")
}

// MarshalText returns the public key file contents: explanatory text with the
// fingerprint, the X-Wing SubjectPublicKeyInfo and the Ed25519 one.
func (k *IssuerPublicKey) MarshalText() ([]byte, error) {
	kemDER, err := asn1.Marshal(spki{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidXWing},
		PublicKey: asn1.BitString{Bytes: k.raw[:kemPublicSize], BitLength: 8 * kemPublicSize}})
	if err != nil {
		return nil, err
	}
	sigDER, err := x509.MarshalPKIXPublicKey(k.sig)
	if err != nil {
		return nil, err
	}
	out := fingerprintText(k.Fingerprint())
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: kemDER})...)
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: sigDER})...), nil
}

// MarshalText returns the private key file contents (keep it 0600): explanatory text with
// the fingerprint, the X-Wing PKCS#8 key and the Ed25519 one.
func (k *IssuerPrivateKey) MarshalText() ([]byte, error) {
	kb, err := k.kem.Bytes()
	if err != nil {
		return nil, fmt.Errorf("exporter: serialising issuer key: %w", err)
	}
	kemDER, err := asn1.Marshal(pkcs8{Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidXWing}, PrivateKey: kb})
	if err != nil {
		return nil, err
	}
	sigDER, err := x509.MarshalPKCS8PrivateKey(k.sig)
	if err != nil {
		return nil, err
	}
	out := fingerprintText(k.pub.Fingerprint())
	out = append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kemDER})...)
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: sigDER})...), nil
}

// twoBlocks reads the standard form: optional explanatory text (a "Fingerprint:" line in
// it must match), then exactly two blocks of type typ without headers, then nothing.
func twoBlocks(b []byte, typ string) (first, second []byte, fingerprint string, err error) {
	i := bytes.Index(b, []byte("-----BEGIN "))
	if i < 0 {
		return nil, nil, "", fmt.Errorf("exporter: no %q blocks found: %w", typ, ErrBadKey)
	}
	for _, line := range strings.Split(string(b[:i]), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "Fingerprint:"); ok {
			fingerprint = strings.TrimSpace(v)
		}
	}
	rest := b[i:]
	var ders [][]byte
	for len(bytes.TrimSpace(rest)) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil || block.Type != typ || len(block.Headers) != 0 || len(ders) == 2 {
			return nil, nil, "", fmt.Errorf("exporter: want exactly two %q blocks without headers: %w", typ, ErrBadKey)
		}
		ders = append(ders, block.Bytes)
	}
	if len(ders) != 2 {
		return nil, nil, "", fmt.Errorf("exporter: want exactly two %q blocks without headers: %w", typ, ErrBadKey)
	}
	return ders[0], ders[1], fingerprint, nil
}

func parseIssuerPublicPKIX(b []byte) (*IssuerPublicKey, error) {
	kemDER, sigDER, fp, err := twoBlocks(b, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	var k spki
	if rest, err := asn1.Unmarshal(kemDER, &k); err != nil || len(rest) != 0 || !k.Algorithm.Algorithm.Equal(oidXWing) ||
		len(k.Algorithm.Parameters.FullBytes) != 0 || k.PublicKey.BitLength != 8*kemPublicSize || len(k.PublicKey.Bytes) != kemPublicSize {
		return nil, fmt.Errorf("exporter: the first block is not an X-Wing public key of %d bytes: %w", kemPublicSize, ErrBadKey)
	}
	sk, err := x509.ParsePKIXPublicKey(sigDER)
	if err != nil {
		return nil, fmt.Errorf("exporter: the second block: %v: %w", err, ErrBadKey)
	}
	sig, ok := sk.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("exporter: the second block is %T, want an Ed25519 key: %w", sk, ErrBadKey)
	}
	pub, err := newIssuerPublic(k.PublicKey.Bytes, sig)
	if err != nil {
		return nil, err
	}
	if fp != "" && fp != pub.Fingerprint() {
		return nil, fmt.Errorf("exporter: key file says fingerprint %q but the key's is %q: %w", fp, pub.Fingerprint(), ErrBadKey)
	}
	return pub, nil
}

func parseIssuerPrivatePKCS8(b []byte) (*IssuerPrivateKey, error) {
	kemDER, sigDER, fp, err := twoBlocks(b, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	var k pkcs8
	if rest, err := asn1.Unmarshal(kemDER, &k); err != nil || len(rest) != 0 || k.Version != 0 || !k.Algorithm.Algorithm.Equal(oidXWing) ||
		len(k.Algorithm.Parameters.FullBytes) != 0 || len(k.PrivateKey) != kemPrivateSize {
		return nil, fmt.Errorf("exporter: the first block is not an X-Wing private key: %w", ErrBadKey)
	}
	kem, err := suiteKEM.NewPrivateKey(k.PrivateKey)
	if err != nil {
		return nil, fmt.Errorf("exporter: issuer KEM private key: %v: %w", err, ErrBadKey)
	}
	sk, err := x509.ParsePKCS8PrivateKey(sigDER)
	if err != nil {
		return nil, fmt.Errorf("exporter: the second block: %v: %w", err, ErrBadKey)
	}
	sig, ok := sk.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("exporter: the second block is %T, want an Ed25519 key: %w", sk, ErrBadKey)
	}
	priv, err := newIssuerPrivate(kem, sig)
	if err != nil {
		return nil, err
	}
	if fp != "" && fp != priv.pub.Fingerprint() {
		return nil, fmt.Errorf("exporter: key file says fingerprint %q but the key's is %q: %w", fp, priv.pub.Fingerprint(), ErrBadKey)
	}
	return priv, nil
}

// decodePEM finds exactly one PEM block of the given type in b, checking its headers.
func decodePEM(b []byte, typ string) ([]byte, error) {
	block, rest := pem.Decode(b)
	if block == nil {
		return nil, fmt.Errorf("exporter: no PEM block %q found: %w", typ, ErrBadKey)
	}
	if block.Type != typ {
		return nil, fmt.Errorf("exporter: PEM block is %q, want %q: %w", block.Type, typ, ErrBadKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return nil, fmt.Errorf("exporter: trailing data after %q: %w", typ, ErrBadKey)
	}
	if v, ok := block.Headers["KEM"]; ok && v != kemName {
		return nil, fmt.Errorf("exporter: key KEM %q, only %s is supported: %w", v, kemName, ErrBadKey)
	}
	if v, ok := block.Headers["Signature"]; ok && v != sigName {
		return nil, fmt.Errorf("exporter: key signature algorithm %q, only %s is supported: %w", v, sigName, ErrBadKey)
	}
	return block.Bytes, nil
}

// checkFingerprintHeader rejects a file whose Fingerprint header disagrees with its key,
// which catches a hand-edited or mixed-up key file.
func checkFingerprintHeader(b []byte, pub *IssuerPublicKey) error {
	block, _ := pem.Decode(b)
	if fp, ok := block.Headers["Fingerprint"]; ok && fp != pub.Fingerprint() {
		return fmt.Errorf("exporter: key file says fingerprint %q but the key's is %q: %w", fp, pub.Fingerprint(), ErrBadKey)
	}
	return nil
}

// ParseIssuerPublicKey reads an issuer public key file (either form, see above).
func ParseIssuerPublicKey(b []byte) (*IssuerPublicKey, error) {
	if !bytes.Contains(b, []byte("-----BEGIN "+pemIssuerPublic+"-----")) {
		return parseIssuerPublicPKIX(b)
	}
	raw, err := decodePEM(b, pemIssuerPublic)
	if err != nil {
		return nil, err
	}
	if len(raw) != kemPublicSize+ed25519.PublicKeySize {
		return nil, fmt.Errorf("exporter: issuer public key is %d bytes, want %d: %w", len(raw), kemPublicSize+ed25519.PublicKeySize, ErrBadKey)
	}
	pub, err := newIssuerPublic(raw[:kemPublicSize], ed25519.PublicKey(raw[kemPublicSize:]))
	if err != nil {
		return nil, err
	}
	if err := checkFingerprintHeader(b, pub); err != nil {
		return nil, err
	}
	return pub, nil
}

// ParseIssuerPrivateKey reads an issuer private key file (either form, see above).
func ParseIssuerPrivateKey(b []byte) (*IssuerPrivateKey, error) {
	if !bytes.Contains(b, []byte("-----BEGIN "+pemIssuerPrivate+"-----")) {
		return parseIssuerPrivatePKCS8(b)
	}
	raw, err := decodePEM(b, pemIssuerPrivate)
	if err != nil {
		return nil, err
	}
	if len(raw) != kemPrivateSize+ed25519.SeedSize {
		return nil, fmt.Errorf("exporter: issuer private key is %d bytes, want %d: %w", len(raw), kemPrivateSize+ed25519.SeedSize, ErrBadKey)
	}
	k, err := suiteKEM.NewPrivateKey(raw[:kemPrivateSize])
	if err != nil {
		return nil, fmt.Errorf("exporter: issuer KEM private key: %v: %w", err, ErrBadKey)
	}
	priv, err := newIssuerPrivate(k, ed25519.NewKeyFromSeed(raw[kemPrivateSize:]))
	if err != nil {
		return nil, err
	}
	if err := checkFingerprintHeader(b, priv.pub); err != nil {
		return nil, err
	}
	return priv, nil
}

// ParseStationPublicKey reads a station (or supervisor) public key: a PEM "PUBLIC KEY" block
// or bare PKIX DER, which must be an ECDSA P-256 key.
func ParseStationPublicKey(b []byte) (*ecdsa.PublicKey, error) {
	der := b
	if block, rest := pem.Decode(b); block != nil {
		if block.Type != "PUBLIC KEY" {
			return nil, fmt.Errorf("exporter: PEM block is %q, want \"PUBLIC KEY\": %w", block.Type, ErrBadKey)
		}
		if len(bytes.TrimSpace(rest)) != 0 {
			return nil, fmt.Errorf("exporter: trailing data after public key: %w", ErrBadKey)
		}
		der = block.Bytes
	}
	return parseP256(der)
}

func parseP256(der []byte) (*ecdsa.PublicKey, error) {
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("exporter: parsing public key: %v: %w", err, ErrBadKey)
	}
	ek, ok := k.(*ecdsa.PublicKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("exporter: public key is %T, want ECDSA P-256: %w", k, ErrBadKey)
	}
	return ek, nil
}

// StationID identifies a station by its signing key: SHA-256 of the PKIX DER public key.
func StationID(pub *ecdsa.PublicKey) ([32]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return [32]byte{}, fmt.Errorf("exporter: encoding station key: %v: %w", err, ErrBadKey)
	}
	return sha256.Sum256(der), nil
}

// MarshalStationPublicKey returns the PEM "PUBLIC KEY" text for a station key, the format
// `verify --station-key` reads.
func MarshalStationPublicKey(pub *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("exporter: encoding station key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}
