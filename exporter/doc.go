// Package exporter builds, encrypts, delivers and verifies enrollment bundles: what the card
// issuer trusts about the enrollments a station made.
//
// A bundle (format v1, specified in docs/bundle-format.md) holds, per enrollment, the identity
// data, the portrait JPEG, the biometric template, the quality vector, the capture metadata and
// the supervisor's approval signature. A manifest in canonical JSON (RFC 8785) lists every
// member's SHA-256 and is signed by the station key as COSE_Sign1 (ES256). The whole payload is
// encrypted to the issuer with HPKE (ML-KEM-768+X25519, HKDF-SHA256, AES-256-GCM) in 64 KiB
// chunks, under a cleartext header that is signed too, so the issuer rejects junk before
// decrypting anything.
//
// The package depends on crypto.Signer and plain types only: the station key lives in the TPM
// (vault hands in a crypto.Signer), and the app maps its stored records onto [Record].
//
// Station side: [Build] writes a bundle; [Outbox] keeps bundles until a [Target]
// ([DirTarget], [HTTPTarget]) has them; [ParseAck] reads the issuer's acknowledgement.
// Issuer side: [Open] verifies and decrypts a bundle; [NewReceiver] is the reference upload
// receiver; [MakeAck] signs an acknowledgement.
package exporter
