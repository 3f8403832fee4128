package enroll

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"enrollstation/biometrics"
	"enrollstation/exporter"
	"enrollstation/vault"
)

// ExtraForcedReason is the CaptureMeta.Extra key holding the clerk's reason for a
// forced capture (a photo accepted although it failed the quality checks). The exported
// record and the approval statement read it under the same key.
const ExtraForcedReason = exporter.ForcedReasonKey

// RejectReasons are the reason codes a supervisor picks from when rejecting; the code
// goes into the vault and the audit log (never free text with personal data).
var RejectReasons = []string{
	"poor-photo",       // the portrait is not good enough for the card
	"wrong-person",     // the portrait does not show the applicant
	"duplicate",        // the applicant is already enrolled
	"details-mismatch", // demographics do not match the documents shown
	"no-consent",       // the citizen's consent is missing
	"other",
}

// ErrUnknownReason means a reject reason is not one of RejectReasons.
var ErrUnknownReason = errors.New("workflow: unknown reject reason")

// QualitySummary is what the supervisor needs from the stored quality report.
type QualitySummary struct {
	Score    int                  // mean score of the mandatory measures, 0..100; -1 unknown
	Pass     bool                 // every mandatory measure passed
	Failed   []string             // mandatory measures that failed
	Measures []biometrics.Measure // every measure, as assessed
}

// ParseQuality reads the biometrics report JSON stored with an enrollment.
func ParseQuality(raw json.RawMessage) (QualitySummary, error) {
	q := QualitySummary{Score: -1}
	if len(raw) == 0 {
		return q, nil
	}
	var r struct {
		Measures []biometrics.Measure   `json:"measures"`
		Pass     bool                   `json:"pass"`
		Score    *int                   `json:"score"`
		Failed   []biometrics.MeasureID `json:"failed"`
	}
	if err := json.Unmarshal(raw, &r); err != nil {
		return q, fmt.Errorf("workflow: reading quality report: %w", err)
	}
	if r.Score != nil {
		q.Score = *r.Score
	}
	q.Pass, q.Measures = r.Pass, r.Measures
	for _, f := range r.Failed {
		q.Failed = append(q.Failed, string(f))
	}
	return q, nil
}

// QueueItem is one row of the supervisor's pending queue.
type QueueItem struct {
	ID                string
	ApplicationNumber string
	Name              string // "SURNAME, Given Names"
	Clerk             string
	CreatedAt         time.Time
	Score             int // quality score 0..100, -1 unknown
	Forced            bool
	ForcedReason      string
	Duplicate         bool    // a template on this station matches this one
	BestMatch         float64 // similarity 0..100 of the closest other enrollment
	Own               bool    // captured by the supervisor viewing the queue
}

// Clean reports whether the item may be approved in bulk: passing quality, not forced,
// no duplicate suspect, not the viewer's own capture.
func (q QueueItem) Clean() bool { return q.Score >= 0 && !q.Forced && !q.Duplicate && !q.Own }

// DuplicateCandidate is another enrollment on this station resembling one under review.
type DuplicateCandidate struct {
	ID                string
	ApplicationNumber string
	Name              string
	Status            vault.Status
	Distance          float64
	Score             float64 // similarity 0..100 (50 at the match threshold)
	Match             bool    // within the matching threshold: likely the same person
}

// PendingQueue lists the enrollments waiting for a supervisor, oldest first, with
// their quality score and flags. viewer (may be "") marks the viewer's own captures,
// which they may not approve.
func PendingQueue(st *vault.Station, viewer string) ([]QueueItem, error) {
	gl, err := LoadGallery(st)
	if err != nil {
		return nil, err
	}
	var ids []string
	if err := st.Store().View(func(tx *vault.Tx) error {
		ids = tx.EnrollmentsByStatus(vault.StatusPending)
		return nil
	}); err != nil {
		return nil, err
	}
	items := make([]QueueItem, 0, len(ids))
	for _, id := range ids {
		e := gl.meta[id]
		if e == nil { // no template: read the metadata alone
			if err := st.Store().View(func(tx *vault.Tx) (err error) { e, err = tx.EnrollmentMeta(id); return err }); err != nil {
				return nil, err
			}
		}
		q, _ := ParseQuality(e.Quality) // an unreadable report shows as score -1, not clean
		it := QueueItem{
			ID: id, ApplicationNumber: e.Demographics.ApplicationNumber, Name: FullName(e.Demographics),
			Clerk: e.CapturedBy, CreatedAt: e.CreatedAt, Score: q.Score,
			ForcedReason: e.Capture.Extra[ExtraForcedReason], Own: viewer != "" && viewer == e.CapturedBy,
		}
		it.Forced = it.ForcedReason != "" || (q.Score >= 0 && !q.Pass)
		cands, err := gl.Of(id, 1)
		if err != nil {
			return nil, err
		}
		if len(cands) > 0 {
			it.BestMatch, it.Duplicate = cands[0].Score, cands[0].Match
		}
		// The clerk's review flagged it too (the matching enrollment may be gone since).
		it.Duplicate = it.Duplicate || e.Capture.Extra[ExtraDuplicates] != ""
		items = append(items, it)
	}
	SortQueue(items, "time", false)
	return items, nil
}

// SortQueue sorts queue items by "time", "name", "clerk", "score" or "application".
func SortQueue(items []QueueItem, by string, desc bool) {
	less := func(a, b QueueItem) bool {
		switch by {
		case "name":
			return a.Name < b.Name
		case "clerk":
			return a.Clerk < b.Clerk
		case "score":
			return a.Score < b.Score
		case "application":
			return a.ApplicationNumber < b.ApplicationNumber
		}
		return a.CreatedAt.Before(b.CreatedAt)
	}
	sort.SliceStable(items, func(i, j int) bool {
		if desc {
			return less(items[j], items[i])
		}
		return less(items[i], items[j])
	})
}

// QueueFilter selects queue items: Text matches name, application number or clerk
// (case-insensitive); FlaggedOnly keeps forced or duplicate-suspect items.
type QueueFilter struct {
	Text        string
	FlaggedOnly bool
}

// Filter returns the items f selects.
func (f QueueFilter) Filter(items []QueueItem) []QueueItem {
	text := strings.ToLower(strings.TrimSpace(f.Text))
	var out []QueueItem
	for _, it := range items {
		if f.FlaggedOnly && !it.Forced && !it.Duplicate {
			continue
		}
		if text != "" && !strings.Contains(strings.ToLower(it.Name+" "+it.ApplicationNumber+" "+it.Clerk+" "+it.ID), text) {
			continue
		}
		out = append(out, it)
	}
	return out
}

// Reject rejects a pending enrollment with one of RejectReasons.
func Reject(st *vault.Station, sup *vault.Session, id, reason string) error {
	ok := false
	for _, r := range RejectReasons {
		ok = ok || r == reason
	}
	if !ok {
		return fmt.Errorf("%w %q (one of %s)", ErrUnknownReason, reason, strings.Join(RejectReasons, ", "))
	}
	return st.Reject(sup, id, reason)
}

// BulkResult says what ApproveClean did with each item.
type BulkResult struct {
	Approved []string
	Skipped  map[string]string // ID → why it was left for individual review
}

// ApproveClean approves, with the one session (one password entry), every clean item of
// the queue (see QueueItem.Clean); the others are left for individual review. It stops
// at the first approval that fails (e.g. a wrong password locking the TPM key).
func ApproveClean(st *vault.Station, sup *vault.Session, items []QueueItem) (BulkResult, error) {
	res := BulkResult{Skipped: map[string]string{}}
	for _, it := range items {
		switch {
		case it.Own || it.Clerk == sup.Name:
			res.Skipped[it.ID] = "own capture"
		case it.Forced:
			res.Skipped[it.ID] = "forced capture"
		case it.Duplicate:
			res.Skipped[it.ID] = "duplicate suspect"
		case it.Score < 0:
			res.Skipped[it.ID] = "no quality report"
		default:
			if _, err := st.Approve(sup, it.ID); err != nil {
				return res, fmt.Errorf("workflow: approving %s: %w", it.ID, err)
			}
			res.Approved = append(res.Approved, it.ID)
		}
	}
	return res, nil
}
