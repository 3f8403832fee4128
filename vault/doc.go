// Package vault keeps the station's secrets and records: keys held by a TPM 2.0 (the
// storage root key, the sealed store key, the station signing key, supervisors' approval
// keys and a monotonic counter), an encrypted badger store of enrollments that survives
// crashes, operator accounts, and a tamper-evident audit log.
//
// The TPM connection is passed in (see OpenTPM and NewTPM); vault knows nothing of the GUI.
package vault
