package enroll

import (
	"errors"
	"fmt"
	"time"

	"gocv.io/x/gocv"

	"enrollstation/biometrics"
	"enrollstation/vault"
)

// QualityError is returned by EnrollPhoto for a photo that fails the station's quality
// checks and was not forced. Report says which measures failed.
type QualityError struct{ Report *biometrics.Report }

func (e *QualityError) Error() string {
	return fmt.Sprintf("workflow: the photo fails the quality checks (score %d): %v", e.Report.Score, e.Report.Failed)
}

// PhotoEnrollment is the result of EnrollPhoto.
type PhotoEnrollment struct {
	Enrollment *vault.Enrollment
	AppNo      string
	Capture    *Capture
	Review     *Review
}

// PhotoOptions are the clerk's choices for EnrollPhoto.
type PhotoOptions struct {
	Source string // where the photo came from (recorded as FileCameraPrefix+Source)
	Force  bool   // accept a failing photo; needs Reason
	Reason string
	Now    time.Time
}

// EnrollPhoto is the scripted clerk path: the photo m is judged with the station's
// final assessment (the administrator's thresholds, exactly as the capture screen's),
// cropped, searched for duplicates with the same gallery as the review step, and
// submitted to the supervisor's queue with a new application number. A failing photo
// without Force is refused with *QualityError; a photo with no usable face with
// ErrNoTemplate or biometrics.ErrNoFace (neither can be forced).
func (s *Service) EnrollPhoto(clerk *vault.Session, d Details, m gocv.Mat, o PhotoOptions) (*PhotoEnrollment, error) {
	if !clerk.Has(vault.RoleClerk) {
		return nil, fmt.Errorf("%s: %w", clerk.Name, vault.ErrForbidden)
	}
	if o.Force && o.Reason == "" {
		return nil, ErrForceNotAllowed
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	final, err := FinalAssessment(s.st)
	if err != nil {
		return nil, err
	}
	rec, err := s.Recognizer()
	if err != nil {
		return nil, err
	}
	c, err := Finalize(m, biometrics.NewAssessor(rec, final), biometrics.PortraitConfig{},
		FinalizeInfo{Forced: o.Force, Reason: o.Reason, Camera: FileCameraPrefix + o.Source, At: o.Now})
	if err != nil {
		return nil, err
	}
	if !c.Report.Pass && !o.Force {
		return nil, &QualityError{Report: c.Report}
	}
	rv, err := ReviewCapture(s.st, c, ReviewCandidates)
	if err != nil {
		return nil, err
	}
	appNo, err := NewApplicationNumber(o.Now)
	if err != nil {
		return nil, err
	}
	e, err := Submit(s.st, clerk, d, appNo, rv, true)
	if err != nil {
		return nil, err
	}
	return &PhotoEnrollment{Enrollment: e, AppNo: appNo, Capture: c, Review: rv}, nil
}

// NoUsableFace reports whether err (from EnrollPhoto or Finalize) means the image shows
// no face a template can be made from: it cannot be enrolled, even forced.
func NoUsableFace(err error) bool {
	return errors.Is(err, ErrNoTemplate) || errors.Is(err, biometrics.ErrNoFace)
}
