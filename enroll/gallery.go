package enroll

import (
	"fmt"
	"strings"

	"enrollstation/biometrics"
	"enrollstation/vault"
)

// ReviewCandidates is how many nearest enrollments the clerk's review and the
// supervisor's detail list.
const ReviewCandidates = 3

// galleryStatuses are the states whose enrollments may still hold biometrics. Every
// duplicate search (review, supervisor detail, queue flags) searches the same set.
var galleryStatuses = []vault.Status{vault.StatusDraft, vault.StatusPending, vault.StatusApproved, vault.StatusRejected, vault.StatusExported}

// Gallery is the station's duplicate-search gallery: the templates of its enrollments
// that still hold biometrics, with their metadata. It is the one loader behind the
// clerk's review and the supervisor's detail and queue, so both show the same
// candidates for the same person.
type Gallery struct {
	g    *biometrics.Gallery
	tmpl map[string]biometrics.Template
	meta map[string]*vault.Enrollment // without portrait and template
}

// LoadGallery loads the gallery from the station's store.
func LoadGallery(st Store) (*Gallery, error) {
	gl := &Gallery{g: biometrics.NewGallery(), tmpl: map[string]biometrics.Template{}, meta: map[string]*vault.Enrollment{}}
	err := st.Store().View(func(tx *vault.Tx) error {
		for _, status := range galleryStatuses {
			for _, id := range tx.EnrollmentsByStatus(status) {
				e, err := tx.Enrollment(id)
				if err != nil {
					return err
				}
				var t biometrics.Template
				if len(e.Template) == 0 || t.UnmarshalBinary(e.Template) != nil {
					continue // purged, or another model's template: nothing to compare
				}
				if err := gl.g.Add(id, t); err != nil {
					continue // another model's template cannot be compared; not a duplicate
				}
				e.Portrait, e.Template = nil, nil
				gl.tmpl[id], gl.meta[id] = t, e
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("workflow: loading the station's templates: %w", err)
	}
	return gl, nil
}

// Len is the number of templates in the gallery.
func (gl *Gallery) Len() int { return gl.g.Len() }

// Nearest returns up to k enrollments nearest to t, nearest first, leaving out
// exclude (the record under review itself; "" for a capture not yet stored). Match is
// set for those within biometrics.DefaultThreshold.
func (gl *Gallery) Nearest(t biometrics.Template, k int, exclude string) ([]DuplicateCandidate, error) {
	if gl.g.Len() == 0 || k <= 0 {
		return nil, nil
	}
	ms, err := gl.g.Search(t, k+1, biometrics.DefaultThreshold)
	if err != nil {
		return nil, fmt.Errorf("workflow: duplicate search: %w", err)
	}
	var out []DuplicateCandidate
	for _, m := range ms {
		if m.ID == exclude || len(out) == k {
			continue
		}
		c := DuplicateCandidate{ID: m.ID, Distance: m.Distance, Score: m.Score, Match: m.Match}
		if o := gl.meta[m.ID]; o != nil {
			c.ApplicationNumber, c.Name, c.Status = o.Demographics.ApplicationNumber, FullName(o.Demographics), o.Status
		}
		out = append(out, c)
	}
	return out, nil
}

// Of returns up to k candidates for the stored enrollment id (none when it holds no
// template).
func (gl *Gallery) Of(id string, k int) ([]DuplicateCandidate, error) {
	t, ok := gl.tmpl[id]
	if !ok {
		return nil, nil
	}
	return gl.Nearest(t, k, id)
}

// Duplicates returns up to k enrollments on this station most like enrollment id (the
// supervisor's detail).
func Duplicates(st *vault.Station, id string, k int) ([]DuplicateCandidate, error) {
	gl, err := LoadGallery(st)
	if err != nil {
		return nil, err
	}
	return gl.Of(id, k)
}

// NewReview searches the gallery for the k nearest enrollments to the capture (the
// clerk's review), with their portraits.
func NewReview(st Store, g *Gallery, c *Capture, k int) (*Review, error) {
	r := &Review{Capture: c}
	if g == nil {
		return r, nil
	}
	cands, err := g.Nearest(c.Template, k, "")
	if err != nil || len(cands) == 0 {
		return r, err
	}
	err = st.Store().View(func(tx *vault.Tx) error {
		for _, cd := range cands {
			d := Duplicate{Match: biometrics.Match{ID: cd.ID, Distance: cd.Distance, Score: cd.Score, Match: cd.Match}}
			e, err := tx.Enrollment(cd.ID)
			if err != nil {
				return fmt.Errorf("workflow: reading duplicate candidate %s: %w", cd.ID, err)
			}
			d.Name = DisplayName(e.Demographics)
			d.AppNo = e.Demographics.ApplicationNumber
			d.Status = e.Status
			d.Portrait = e.Portrait
			r.Duplicates = append(r.Duplicates, d)
		}
		return nil
	})
	return r, err
}

// ReviewCapture loads the gallery and searches it for the capture's k nearest
// enrollments (what the review step shows).
func ReviewCapture(st Store, c *Capture, k int) (*Review, error) {
	g, err := LoadGallery(st)
	if err != nil {
		return nil, err
	}
	return NewReview(st, g, c, k)
}

// DisplayName is how a citizen's name is shown in a line of text: family name first,
// as on the card ("陈 美玲").
func DisplayName(d vault.Demographics) string {
	return strings.TrimSpace(d.Surname + " " + d.GivenNames)
}

// FullName formats demographics for lists and tables ("BONA, Ana").
func FullName(d vault.Demographics) string {
	switch {
	case d.Surname == "":
		return d.GivenNames
	case d.GivenNames == "":
		return strings.ToUpper(d.Surname)
	}
	return strings.ToUpper(d.Surname) + ", " + d.GivenNames
}
