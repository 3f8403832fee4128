package enroll

import (
	"slices"
	"testing"
	"time"

	"enrollstation/biometrics"
	"enrollstation/vault"
)

// The clerk's review of a capture and the supervisor's detail of the record it becomes
// list the same duplicate candidates, in the same order: both search the one gallery
// (LoadGallery), including a draft of the same person saved by another clerk.
func TestReviewAndDetailShowSameCandidates(t *testing.T) {
	r := needRec(t)
	st, clerk := newStation(t)
	final := biometrics.NewAssessor(r, biometrics.DefaultConfig())
	day := time.Now()
	capOf := func(photo string) *Capture { return photoCapture(t, final, photo, day) }
	d := validDetails().Normalize()
	submit := func(c *Capture) *vault.Enrollment {
		t.Helper()
		rv, err := ReviewCapture(st, c, ReviewCandidates)
		if err != nil {
			t.Fatal(err)
		}
		no, err := NewApplicationNumber(day)
		if err != nil {
			t.Fatal(err)
		}
		e, err := Submit(st, clerk, d, no, rv, true)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	submit(capOf("bona.jpg"))
	submit(capOf("luda.jpg"))
	// A draft of the same person (saved, not submitted) still holds a template.
	dc := capOf("bona3.jpg")
	tmpl, err := dc.Template.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	no, _ := NewApplicationNumber(day)
	draft := &vault.Enrollment{Status: vault.StatusDraft, Demographics: d.Demographics(no), Portrait: dc.Portrait, Template: tmpl}
	if err := st.SaveEnrollment(clerk, draft); err != nil {
		t.Fatal(err)
	}

	c := capOf("bona2.jpg")
	rv, err := ReviewCapture(st, c, ReviewCandidates)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Submit(st, clerk, d, newAppNo(t, day), rv, true)
	if err != nil {
		t.Fatal(err)
	}
	detail, err := Duplicates(st, e.ID, ReviewCandidates)
	if err != nil {
		t.Fatal(err)
	}
	var review, super []string
	for _, x := range rv.Duplicates {
		review = append(review, x.ID)
	}
	for _, x := range detail {
		super = append(super, x.ID)
	}
	if len(review) != 3 || !slices.Equal(review, super) {
		t.Fatalf("clerk review shows %v, supervisor detail %v", review, super)
	}
	if !slices.Contains(review, draft.ID) {
		t.Errorf("the draft of the same person %s is not a candidate: %v", draft.ID, review)
	}
	for i := range detail {
		if rv.Duplicates[i].Match.Match != detail[i].Match || rv.Duplicates[i].Score != detail[i].Score {
			t.Errorf("candidate %s: review %+v, detail %+v", detail[i].ID, rv.Duplicates[i].Match, detail[i])
		}
	}
}

func newAppNo(t *testing.T, day time.Time) string {
	t.Helper()
	no, err := NewApplicationNumber(day)
	if err != nil {
		t.Fatal(err)
	}
	return no
}
