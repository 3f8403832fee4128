package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"

	"enrollstation/enroll"
)

// The audit log is searchable by application number (with or without dashes, reaching
// the batch that holds it) and by enrollment ID.
func TestAuditSearchByApplicationNumberAndID(t *testing.T) {
	s := newSupStation(t)
	bona := s.enroll("clara", "bona.jpg", "BONA")
	luda := s.enroll("clara", "luda.jpg", "LUDA")
	sam := s.login("sam")
	if _, err := s.st.Approve(sam, bona); err != nil {
		t.Fatal(err)
	}
	b, err := enroll.CloseBatch(s.st, sam)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := s.st.Enrollment(bona)
	appNo := e.Demographics.ApplicationNumber

	sh := s.shellFor("sam", "")
	a := newAuditScreen(sh)
	sh.win.SetContent(a.content)
	for _, query := range []string{appNo, strings.ReplaceAll(appNo, "-", ""), bona} {
		a.text.SetText("")
		test.Type(a.text, query)
		var objects, actions []string
		for _, r := range a.rows {
			objects, actions = append(objects, r.Object), append(actions, r.Action)
		}
		if !contains(objects, bona) || !contains(objects, b.ID) && query != bona || contains(objects, luda) {
			t.Errorf("search %q: records %q (actions %q); want %s and its batch %s, not %s", query, objects, actions, bona, b.ID, luda)
		}
	}
	a.text.SetText(appNo)
	if !strings.Contains(markup(sh), appNo) {
		t.Error("the Application column does not show the number")
	}
}
