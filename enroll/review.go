package enroll

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"enrollstation/biometrics"
	"enrollstation/vault"
)

// Keys of vault.CaptureMeta.Extra written by Submit, besides ExtraForcedReason (read by
// the supervisor's screens and the exporter).
const (
	ExtraDuplicates   = "duplicate_suspect" // comma-separated IDs of matching enrollments
	ExtraAutoCapture  = "auto_capture"      // "true" when auto-capture took the frame
	ExtraQualityScore = "quality_score"     // the report's overall score, 0..100
)

// FileCameraPrefix starts the Capture.Camera of an image imported from a file (the
// scripted enroll command) rather than taken by the station's camera.
const FileCameraPrefix = "file:"

// ErrNoConsent is returned by Submit without the citizen's consent.
var ErrNoConsent = errors.New("workflow: the citizen's consent is required before submitting")

// Duplicate is a possible duplicate on this station.
type Duplicate struct {
	biometrics.Match
	Name     string // family and given names
	AppNo    string
	Status   vault.Status
	Portrait []byte // JPEG, nil when purged
}

// Review is what the review step shows besides the capture.
type Review struct {
	Capture    *Capture
	Duplicates []Duplicate // nearest first; Match set when within the threshold
}

// Suspect reports whether any duplicate is within the match threshold.
func (r *Review) Suspect() bool {
	for _, d := range r.Duplicates {
		if d.Match.Match {
			return true
		}
	}
	return false
}

// Store is the part of the vault the review and submit steps use.
type Store interface {
	Store() *vault.Store
	SaveEnrollment(clerk *vault.Session, e *vault.Enrollment) error
}

// Submit stores the enrollment as pending (the supervisor's queue), with the captured
// frame (kept on the station) and the name of the active camera profile in its capture
// metadata. consent must be true. The write is durable when it returns.
func Submit(st Store, clerk *vault.Session, d Details, appNo string, r *Review, consent bool) (*vault.Enrollment, error) {
	if !consent {
		return nil, ErrNoConsent
	}
	if err := d.Validate(r.Capture.At); err != nil {
		return nil, err
	}
	if _, err := ParseApplicationNumber(appNo); err != nil {
		return nil, err
	}
	c := r.Capture
	if !c.Report.Pass && !c.Forced {
		return nil, fmt.Errorf("workflow: the capture fails quality checks and was not forced: %v", c.Report.Failed)
	}
	tmpl, err := c.Template.MarshalBinary()
	if err != nil {
		return nil, fmt.Errorf("workflow: encoding the template: %w", err)
	}
	q, err := json.Marshal(c.Report)
	if err != nil {
		return nil, fmt.Errorf("workflow: encoding the quality report: %w", err)
	}
	extra := map[string]string{ExtraQualityScore: strconv.Itoa(c.Report.Score)}
	if c.Forced {
		extra[ExtraForcedReason] = c.Reason
	}
	if c.Auto {
		extra[ExtraAutoCapture] = "true"
	}
	var dups []string
	for _, dd := range r.Duplicates {
		if dd.Match.Match {
			dups = append(dups, dd.ID)
		}
	}
	if len(dups) > 0 {
		extra[ExtraDuplicates] = strings.Join(dups, ",")
	}
	// The calibrated profile the camera ran with goes into the capture metadata (and so
	// into the exported record). An imported photo was not taken by it.
	var profile string
	if !strings.HasPrefix(c.Camera, FileCameraPrefix) {
		p, _, err := activeCameraProfile(st.Store())
		switch {
		case err == nil:
			profile = p.Name
		case !errors.Is(err, ErrNoProfile):
			return nil, fmt.Errorf("workflow: reading the active camera profile: %w", err)
		}
	}
	e := &vault.Enrollment{
		Status:       vault.StatusPending,
		Demographics: d.Demographics(appNo),
		Portrait:     c.Portrait,
		Template:     tmpl,
		Frame:        c.Frame,
		Quality:      q,
		Capture: vault.CaptureMeta{
			Camera: c.Camera, ProfileID: profile, CapturedAt: c.At.UTC(), Width: c.Width, Height: c.Height,
			Attempts: c.Attempts, Extra: extra,
		},
	}
	if err := st.SaveEnrollment(clerk, e); err != nil {
		return nil, fmt.Errorf("workflow: saving the enrollment: %w", err)
	}
	return e, nil
}
