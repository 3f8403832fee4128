package exporter

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"enrollstation/exporter/statement"
)

// KeyStatus is the state of a supervisor's approval key in the station's roster.
type KeyStatus string

// Key states: a supervisor has at most one active key; a password reset replaces it
// (replaced, naming the successor), removing the account revokes it.
const (
	KeyActive   KeyStatus = "active"
	KeyReplaced KeyStatus = "replaced"
	KeyRevoked  KeyStatus = "revoked"
)

// RosterEntry is one registered supervisor approval key, as the station's vault keeps it.
// Every bundle's manifest carries the whole roster (every key that ever signed an
// approval still in circulation, current or not), each entry certified by the station
// key; the issuer verifies approvals only against roster keys.
type RosterEntry struct {
	SupervisorID string    // operator name; approvals name it as supervisor_id
	DisplayName  string    // for people; free text, at most 200 bytes, no control characters
	PublicKey    []byte    // PKIX DER, ECDSA P-256 (the supervisor's TPM approval key)
	Created      time.Time // when the key was made
	Status       KeyStatus // "" means KeyActive
	EndedAt      time.Time // when it was replaced or revoked; zero while active
	ReplacedBy   string    // KeyID of the successor key when replaced, else ""
	Reason       string    // why it was replaced or revoked (free text, "" while active)
	// Certification is the station's ASN.1 DER ECDSA signature over SHA-256 of
	// RosterCertificationInput. Nil: Build certifies the entry with the station key.
	Certification []byte
}

// KeyID is how bundles name a public key: lowercase hex SHA-256 of its PKIX DER.
func KeyID(pkixDER []byte) string { return statement.KeyID(pkixDER) }

// rosterJSON is a roster entry in the manifest.
type rosterJSON struct {
	SupervisorID  string `json:"supervisor_id"`
	DisplayName   string `json:"display_name"`
	KeyID         string `json:"key_id"`
	PublicKey     []byte `json:"public_key"` // base64 PKIX DER
	Created       string `json:"created"`
	Status        string `json:"status"`
	EndedAt       string `json:"ended_at"`
	ReplacedBy    string `json:"replaced_by"`
	Reason        string `json:"reason"`
	Certification []byte `json:"certification"` // base64 ASN.1 DER ECDSA by the station key
}

// rosterCertJSON is what the station signs for an entry: the entry without its
// certification, bound to the station and to this purpose.
type rosterCertJSON struct {
	Context      string `json:"context"`
	StationID    string `json:"station_id"`
	SupervisorID string `json:"supervisor_id"`
	DisplayName  string `json:"display_name"`
	KeyID        string `json:"key_id"`
	PublicKey    []byte `json:"public_key"`
	Created      string `json:"created"`
	Status       string `json:"status"`
	EndedAt      string `json:"ended_at"`
	ReplacedBy   string `json:"replaced_by"`
	Reason       string `json:"reason"`
}

const rosterContext = "enrollstation roster entry v1"

func (e RosterEntry) json() rosterJSON {
	st := e.Status
	if st == "" {
		st = KeyActive
	}
	j := rosterJSON{SupervisorID: e.SupervisorID, DisplayName: e.DisplayName, KeyID: KeyID(e.PublicKey),
		PublicKey: e.PublicKey, Created: fmtTime(e.Created), Status: string(st), ReplacedBy: e.ReplacedBy,
		Reason: e.Reason, Certification: e.Certification}
	if !e.EndedAt.IsZero() {
		j.EndedAt = fmtTime(e.EndedAt)
	}
	return j
}

func (j rosterJSON) certInput(stationID string) ([]byte, error) {
	return canonicalJSON(rosterCertJSON{Context: rosterContext, StationID: stationID, SupervisorID: j.SupervisorID,
		DisplayName: j.DisplayName, KeyID: j.KeyID, PublicKey: j.PublicKey, Created: j.Created, Status: j.Status,
		EndedAt: j.EndedAt, ReplacedBy: j.ReplacedBy, Reason: j.Reason})
}

// RosterCertificationInput is the byte string a station signs to certify e (SHA-256 of
// it, ECDSA P-256, ASN.1 DER): the canonical JSON of the entry's manifest fields without
// "certification", plus "context":"enrollstation roster entry v1" and the station ID (hex).
func RosterCertificationInput(stationID string, e RosterEntry) ([]byte, error) {
	return e.json().certInput(stationID)
}

// rosterKey is a checked roster entry, as approvals are verified against it.
type rosterKey struct {
	RosterEntry
	pub *ecdsa.PublicKey
}

// checkRoster checks a roster's entries: IDs, keys, states and times, each certification
// under the station key, and that every key appears once. It returns the keys by key ID.
func checkRoster(entries []rosterJSON, stationID string, station *ecdsa.PublicKey) (map[string]*rosterKey, error) {
	bad := func(i int, format string, args ...any) error {
		return coded(CodeRoster, ErrMalformed, "manifest: roster entry %d: %s", i, fmt.Sprintf(format, args...))
	}
	keys := make(map[string]*rosterKey, len(entries))
	for i, j := range entries {
		if !validOperatorID(j.SupervisorID) {
			return nil, coded(CodeBadID, ErrMalformed, "manifest: roster entry %d: supervisor ID", i)
		}
		if !validFreeText(j.DisplayName) || !validFreeText(j.Reason) {
			return nil, bad(i, "display name or reason is not printable text of at most 200 bytes")
		}
		if !hex64.MatchString(j.KeyID) || (j.ReplacedBy != "" && !hex64.MatchString(j.ReplacedBy)) {
			return nil, coded(CodeBadHex, ErrMalformed, "manifest: roster entry %d: key ID", i)
		}
		if j.KeyID != KeyID(j.PublicKey) {
			return nil, bad(i, "key_id is not the SHA-256 of public_key")
		}
		pub, err := parseP256(j.PublicKey)
		if err != nil {
			return nil, bad(i, "public key: %v", err)
		}
		if keys[j.KeyID] != nil {
			return nil, bad(i, "key listed twice")
		}
		e := RosterEntry{SupervisorID: j.SupervisorID, DisplayName: j.DisplayName, PublicKey: j.PublicKey,
			Status: KeyStatus(j.Status), ReplacedBy: j.ReplacedBy, Reason: j.Reason, Certification: j.Certification}
		if e.Created, err = parseTime(j.Created); err != nil {
			return nil, coded(CodeBadTime, ErrMalformed, "manifest: roster entry %d: created", i)
		}
		switch e.Status {
		case KeyActive:
			if j.EndedAt != "" || j.ReplacedBy != "" {
				return nil, bad(i, "an active key has no ended_at or replaced_by")
			}
		case KeyReplaced, KeyRevoked:
			if e.EndedAt, err = parseTime(j.EndedAt); err != nil {
				return nil, coded(CodeBadTime, ErrMalformed, "manifest: roster entry %d: ended_at", i)
			}
			if e.EndedAt.Before(e.Created) {
				return nil, bad(i, "ended before it was created")
			}
			if (e.Status == KeyReplaced) != (j.ReplacedBy != "") {
				return nil, bad(i, "replaced_by is set exactly when the key was replaced")
			}
		default:
			return nil, bad(i, "status is not active, replaced or revoked")
		}
		in, err := j.certInput(stationID)
		if err != nil {
			return nil, err
		}
		d := sha256.Sum256(in)
		if !ecdsa.VerifyASN1(station, d[:], j.Certification) {
			return nil, &SignatureError{What: fmt.Sprintf("roster entry %d (%s)", i, j.KeyID[:16])}
		}
		keys[j.KeyID] = &rosterKey{RosterEntry: e, pub: pub}
	}
	active := map[string]bool{}
	for _, k := range keys {
		if k.ReplacedBy != "" {
			if s := keys[k.ReplacedBy]; s == nil || s.SupervisorID != k.SupervisorID {
				return nil, coded(CodeRoster, ErrMalformed, "manifest: roster: key %s is replaced by a key not in the roster for the same supervisor", k.ReplacedBy[:16])
			}
		}
		if k.Status == KeyActive {
			if active[k.SupervisorID] {
				return nil, coded(CodeRoster, ErrMalformed, "manifest: roster: two active keys for one supervisor")
			}
			active[k.SupervisorID] = true
		}
	}
	return keys, nil
}

// rosterForBuild turns the build input into manifest entries, certifying entries that
// have no certification yet with the station key, and checks them as a reader would.
func rosterForBuild(in []RosterEntry, signer crypto.Signer, stationID string) ([]rosterJSON, map[string]*rosterKey, error) {
	out := make([]rosterJSON, 0, len(in))
	for i, e := range in {
		j := e.json()
		if len(j.Certification) == 0 {
			b, err := j.certInput(stationID)
			if err != nil {
				return nil, nil, err
			}
			d := sha256.Sum256(b)
			if j.Certification, err = signer.Sign(rand.Reader, d[:], crypto.SHA256); err != nil {
				return nil, nil, fmt.Errorf("exporter: build: certifying roster entry %d: %w", i, err)
			}
		}
		out = append(out, j)
	}
	keys, err := checkRoster(out, stationID, signer.Public().(*ecdsa.PublicKey))
	if err != nil {
		return nil, nil, fmt.Errorf("exporter: build: %w", err)
	}
	return out, keys, nil
}

// IssuerKeyChange is one change of the issuer public key the station encrypts to, as
// the vault recorded it; every bundle carries the changes made since the previous bundle,
// oldest first, so the issuer sees each one.
type IssuerKeyChange struct {
	KeyID         [32]byte  // the new key's ID (IssuerPublicKey.KeyID)
	PreviousKeyID [32]byte  // the key it replaced; zero for the first provisioning
	ChangedAt     time.Time // when the change took effect
	ApprovedBy    []string  // operators who made and confirmed the change
	Reason        string    // free text
}

type issuerKeyChangeJSON struct {
	KeyID         string   `json:"key_id"`
	PreviousKeyID string   `json:"previous_key_id"` // "" for the first provisioning
	ChangedAt     string   `json:"changed_at"`
	ApprovedBy    []string `json:"approved_by"`
	Reason        string   `json:"reason"`
}

func issuerKeyChangesJSON(in []IssuerKeyChange) []issuerKeyChangeJSON {
	out := make([]issuerKeyChangeJSON, 0, len(in))
	for _, c := range in {
		j := issuerKeyChangeJSON{KeyID: hex.EncodeToString(c.KeyID[:]), ChangedAt: fmtTime(c.ChangedAt),
			ApprovedBy: c.ApprovedBy, Reason: c.Reason}
		if c.PreviousKeyID != ([32]byte{}) {
			j.PreviousKeyID = hex.EncodeToString(c.PreviousKeyID[:])
		}
		if j.ApprovedBy == nil {
			j.ApprovedBy = []string{}
		}
		out = append(out, j)
	}
	return out
}

// checkIssuerKeyChanges reads the manifest's issuer-key changes: well formed, in time
// order, each following the one before, the last naming the key this bundle is
// encrypted to.
func checkIssuerKeyChanges(in []issuerKeyChangeJSON, issuerKeyID string) ([]IssuerKeyChange, error) {
	bad := func(i int, what string) error {
		return coded(CodeIssuerKeyChange, ErrMalformed, "manifest: issuer key change %d: %s", i, what)
	}
	out := make([]IssuerKeyChange, 0, len(in))
	for i, j := range in {
		var c IssuerKeyChange
		if decodeHex32(j.KeyID, &c.KeyID) != nil || (j.PreviousKeyID != "" && decodeHex32(j.PreviousKeyID, &c.PreviousKeyID) != nil) {
			return nil, coded(CodeBadHex, ErrMalformed, "manifest: issuer key change %d: key ID", i)
		}
		var err error
		if c.ChangedAt, err = parseTime(j.ChangedAt); err != nil {
			return nil, coded(CodeBadTime, ErrMalformed, "manifest: issuer key change %d: changed_at", i)
		}
		for _, a := range j.ApprovedBy {
			if !validOperatorID(a) {
				return nil, coded(CodeBadID, ErrMalformed, "manifest: issuer key change %d: approved_by", i)
			}
		}
		if !validFreeText(j.Reason) {
			return nil, bad(i, "reason is not printable text of at most 200 bytes")
		}
		if i > 0 {
			if p := out[i-1]; c.PreviousKeyID != p.KeyID || c.ChangedAt.Before(p.ChangedAt) {
				return nil, bad(i, "does not follow the change before it")
			}
		}
		c.ApprovedBy, c.Reason = j.ApprovedBy, j.Reason
		out = append(out, c)
	}
	if n := len(out); n > 0 && hex.EncodeToString(out[n-1].KeyID[:]) != issuerKeyID {
		return nil, bad(n-1, "the last change names another key than the bundle is encrypted to")
	}
	return out, nil
}
