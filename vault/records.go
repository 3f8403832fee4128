package vault

import (
	"encoding/json"
	"fmt"
	"time"
)

// recordVersion is the version of the record encodings below. Readers accept versions up
// to it and refuse newer ones (written by a newer release) rather than misreading them.
const recordVersion = 1

// Status is an enrollment's place in the workflow.
type Status string

// Enrollment statuses: draft → pending → approved | rejected; approved → exported →
// purged; a rejected enrollment may go back to draft for a new capture; an exported one
// goes back to approved when the issuer refuses its whole bundle (re-export).
const (
	StatusDraft    Status = "draft"
	StatusPending  Status = "pending"
	StatusApproved Status = "approved"
	StatusRejected Status = "rejected"
	StatusExported Status = "exported"
	StatusPurged   Status = "purged"
)

// Statuses lists every status in workflow order.
var Statuses = []Status{StatusDraft, StatusPending, StatusApproved, StatusRejected, StatusExported, StatusPurged}

var transitions = map[Status][]Status{
	StatusDraft:    {StatusDraft, StatusPending},
	StatusPending:  {StatusPending, StatusDraft, StatusApproved, StatusRejected},
	StatusApproved: {StatusExported},
	StatusRejected: {StatusDraft},
	StatusExported: {StatusExported, StatusPurged, StatusApproved}, // back to approved: the issuer refused the whole bundle
	StatusPurged:   {},
}

// CanTransition reports whether the workflow allows going from one status to another.
func CanTransition(from, to Status) bool {
	if from == "" {
		return to == StatusDraft || to == StatusPending
	}
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Demographics are the citizen's details as typed by the clerk.
type Demographics struct {
	GivenNames     string `json:"given_names"`
	Surname        string `json:"surname"`
	DateOfBirth    string `json:"date_of_birth,omitempty"` // YYYY-MM-DD
	Sex            string `json:"sex,omitempty"`           // F, M or X (ICAO 9303)
	Nationality    string `json:"nationality,omitempty"`   // ICAO 3-letter code
	PlaceOfBirth   string `json:"place_of_birth,omitempty"`
	Address        string `json:"address,omitempty"`
	DocumentNumber string `json:"document_number,omitempty"` // previous ID number, if any

	// Added with the clerk's details form (all optional, so older records still read):
	// the application number printed on the receipt, a phone number, and the address in
	// the issuer's structured shape (exporter.Address); Address above stays as the
	// free-text form of it.
	ApplicationNumber string   `json:"application_number,omitempty"`
	Phone             string   `json:"phone,omitempty"` // E.164, e.g. +85291234567
	AddressLines      []string `json:"address_lines,omitempty"`
	Locality          string   `json:"locality,omitempty"`
	PostalCode        string   `json:"postal_code,omitempty"`
	Country           string   `json:"country,omitempty"` // ICAO 3-letter code
}

// CaptureMeta describes how the portrait was captured.
type CaptureMeta struct {
	Camera     string            `json:"camera,omitempty"`      // device or source
	ProfileID  string            `json:"profile_id,omitempty"`  // camera profile in force
	CapturedAt time.Time         `json:"captured_at,omitempty"` // when the frame was taken
	Width      int               `json:"width,omitempty"`
	Height     int               `json:"height,omitempty"`
	Attempts   int               `json:"attempts,omitempty"` // captures tried before this one
	Extra      map[string]string `json:"extra,omitempty"`
}

// Approval is a supervisor's signed decision on an enrollment.
type Approval struct {
	Supervisor string    `json:"supervisor"`
	At         time.Time `json:"at"`
	// Statement is the exact byte string signed (see ApprovalStatement): SHA-256 of it is
	// the digest signed with ECDSA P-256 by the supervisor's TPM key.
	Statement []byte `json:"statement"`
	Signature []byte `json:"signature"`  // ASN.1 DER ECDSA
	PublicKey []byte `json:"public_key"` // supervisor's key, PKIX DER
}

// Enrollment is one citizen's enrollment. Portrait, Template and Frame are stored apart
// from the rest of the record so that listing does not read them and purging removes them.
type Enrollment struct {
	V            int             `json:"v"`
	ID           string          `json:"id"`
	Status       Status          `json:"status"`
	Demographics Demographics    `json:"demographics"`
	Portrait     []byte          `json:"-"`                 // ICAO portrait, JPEG
	Template     []byte          `json:"-"`                 // face template (biometrics format)
	Frame        []byte          `json:"-"`                 // captured camera frame, downscaled JPEG; station only, read by Tx.EnrollmentFrame
	Quality      json.RawMessage `json:"quality,omitempty"` // quality report, as JSON
	Capture      CaptureMeta     `json:"capture"`
	BatchID      string          `json:"batch_id,omitempty"`

	CapturedBy   string    `json:"captured_by"` // clerk who captured
	Approval     *Approval `json:"approval,omitempty"`
	RejectedBy   string    `json:"rejected_by,omitempty"`
	RejectReason string    `json:"reject_reason,omitempty"`
	BundleSeq    uint64    `json:"bundle_seq,omitempty"` // TPM counter value of the bundle
	ExportedAt   time.Time `json:"exported_at,omitempty"`
	IssuerAckAt  time.Time `json:"issuer_ack_at,omitempty"`
	// IssuerRefusal is the issuer's reason for refusing the record; its biometrics stay
	// (until retention) so the supervisor can see what was refused.
	IssuerRefusal string    `json:"issuer_refusal,omitempty"`
	PurgedAt      time.Time `json:"purged_at,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// BatchStatus is a batch's state.
type BatchStatus string

// Batch statuses.
const (
	BatchOpen     BatchStatus = "open"
	BatchClosed   BatchStatus = "closed"
	BatchExported BatchStatus = "exported"
)

// Batch groups approved enrollments exported together in one bundle.
type Batch struct {
	V          int         `json:"v"`
	ID         string      `json:"id"`
	Status     BatchStatus `json:"status"`
	CreatedBy  string      `json:"created_by"`
	CreatedAt  time.Time   `json:"created_at"`
	ClosedAt   time.Time   `json:"closed_at,omitempty"`
	ExportedAt time.Time   `json:"exported_at,omitempty"`
	BundleSeq  uint64      `json:"bundle_seq,omitempty"`
	BundleHash []byte      `json:"bundle_hash,omitempty"` // SHA-256 of the exported bundle

	// Export bookkeeping (added for the supervisor's export screen; all optional).
	EnrollmentIDs []string  `json:"enrollment_ids,omitempty"` // members, fixed when the batch closes
	Quarantined   []string  `json:"quarantined,omitempty"`    // damaged members a supervisor took out (enroll.Quarantine)
	BundleID      string    `json:"bundle_id,omitempty"`      // outbox bundle built for the batch
	Target        string    `json:"target,omitempty"`         // where the bundle was sent
	Location      string    `json:"location,omitempty"`       // where the target says it now is
	DeliveryError string    `json:"delivery_error,omitempty"` // last failed delivery attempt
	IssuerAckAt   time.Time `json:"issuer_ack_at,omitempty"`  // issuer acknowledgement imported
	AckAccepted   int       `json:"ack_accepted,omitempty"`   // records the issuer took over
	AckRefused    int       `json:"ack_refused,omitempty"`    // records the issuer refused
}

// Role is what an operator may do; an operator may hold several.
type Role string

// Roles.
const (
	RoleClerk      Role = "clerk"      // captures enrollments
	RoleSupervisor Role = "supervisor" // approves or rejects, exports
	RoleTechnician Role = "technician" // calibrates cameras
	RoleAdmin      Role = "admin"      // manages operators and the station
)

// AllRoles lists every role.
var AllRoles = []Role{RoleClerk, RoleSupervisor, RoleTechnician, RoleAdmin}

// ParseRole checks a role name.
func ParseRole(s string) (Role, error) {
	for _, r := range AllRoles {
		if string(r) == s {
			return r, nil
		}
	}
	return "", fmt.Errorf("vault: unknown role %q (clerk, supervisor, technician, admin)", s)
}

// KDFParams are argon2id parameters, kept with each password hash.
type KDFParams struct {
	Time    uint32 `json:"t"`
	Memory  uint32 `json:"m"` // KiB
	Threads uint8  `json:"p"`
}

// Operator is a user account.
type Operator struct {
	V        int    `json:"v"`
	Name     string `json:"name"`
	Roles    []Role `json:"roles"`
	Locked   bool   `json:"locked"`
	Failures int    `json:"failures"` // consecutive failed logins

	KDF      KDFParams `json:"kdf"`
	Salt     []byte    `json:"salt"`
	Verifier []byte    `json:"verifier"` // first half of argon2id(password); the second half is the TPM auth
	// ApprovalKey is a supervisor's TPM signing key, authorized by a value derived from
	// the password, so the TPM's dictionary-attack protection guards it.
	ApprovalKey *KeyBlob `json:"approval_key,omitempty"`

	CreatedAt         time.Time `json:"created_at"`
	CreatedBy         string    `json:"created_by"`
	PasswordChangedAt time.Time `json:"password_changed_at"`
	LastLoginAt       time.Time `json:"last_login_at,omitempty"`
}

// HasRole reports whether the operator holds r.
func (o *Operator) HasRole(r Role) bool {
	for _, x := range o.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// CameraProfile is a technician's calibration of one camera.
type CameraProfile struct {
	V            int             `json:"v"`
	ID           string          `json:"id"`
	Device       string          `json:"device"`
	Controls     map[string]int  `json:"controls,omitempty"` // e.g. exposure, white balance
	Data         json.RawMessage `json:"data,omitempty"`     // calibration details, as JSON
	CalibratedBy string          `json:"calibrated_by"`
	CalibratedAt time.Time       `json:"calibrated_at"`
}

// Settings are the station-wide settings kept in the store.
type Settings struct {
	V                int    `json:"v"`
	StationName      string `json:"station_name"`
	Site             string `json:"site"`
	RetentionDays    int    `json:"retention_days"`    // purge biometrics this long after export
	LockoutThreshold int    `json:"lockout_threshold"` // failed logins before an account locks
	ActiveProfile    string `json:"active_profile,omitempty"`
	IssuerKey        []byte `json:"issuer_key,omitempty"` // issuer's public key for bundle encryption

	// Operator-facing preferences (added for the admin settings screen; zero = default).
	IdleLockMinutes int             `json:"idle_lock_minutes,omitempty"` // lock the screen after this long idle
	Language        string          `json:"language,omitempty"`          // "en" or "zh"
	Quality         json.RawMessage `json:"quality,omitempty"`           // quality threshold overrides, as JSON
}

// DefaultSettings are the settings of a new station.
func DefaultSettings() Settings {
	return Settings{V: recordVersion, RetentionDays: 30, LockoutThreshold: 5}
}
