// Package exporter builds, encrypts, delivers and verifies enrollment bundles: what the card
// issuer trusts about the enrollments a station made.
//
// A bundle (format v2, specified in docs/bundle-format.md; v1 bundles are still read)
// holds, per enrollment, the identity data, the portrait JPEG, the biometric template, the
// quality vector, the capture metadata and the supervisor's approval: a signature by a
// registered supervisor key over the approval statement (package exporter/statement),
// which names the station, the record and the key. A manifest in canonical JSON (RFC 8785)
// lists every member's SHA-256, carries the station's roster of supervisor keys (each
// entry certified by the station key) and the issuer-key changes, and is signed by the
// station key as COSE_Sign1 (ES256). The payload is encrypted to the issuer with HPKE
// (X-Wing, HKDF-SHA256, AES-256-GCM) in 64 KiB chunks, under a cleartext header that is
// signed too, so the issuer rejects junk before decrypting anything. Everything is read
// under a strict JSON profile (exporter/internal/jsonprofile), and every failure carries a
// stable reason code ([Reason]).
//
// The package depends on crypto.Signer and plain types only: the station key lives in the
// TPM (vault hands in a crypto.Signer), and the app maps its stored records onto [Record],
// its supervisor keys onto [RosterEntry] and its issuer-key history onto [IssuerKeyChange].
//
// Station side: [Build] writes a bundle; [Outbox] keeps bundles until a [Target]
// ([DirTarget], [HTTPTarget] with mutual TLS) has them; [ParseAck] and [CheckAck] read the
// issuer's acknowledgement. Issuer side: [Open] verifies and decrypts a bundle;
// [NewReceiver] is the reference upload receiver for registered stations; [Acknowledge]
// and [Refuse] sign positive and negative acknowledgements.
package exporter
