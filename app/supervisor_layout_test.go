package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"

	"enrollstation/vault"
)

// inWindow reports whether o is laid out wholly inside sh's 1366x768 window and visible.
func inWindow(sh *shell, o fyne.CanvasObject) bool {
	p := sh.app.Driver().AbsolutePositionForObject(o)
	s := o.Size()
	c := sh.win.Canvas().Size()
	return o.Visible() && s.Width > 0 && p.X >= 0 && p.Y >= 0 && p.X+s.Width <= c.Width && p.Y+s.Height <= c.Height
}

// The supervisor's detail fits 1366x768 on the home screen (top bar, tabs): Approve and
// Reject and the "captured by you" notice are on show however long the detail is, and
// the details beside the portraits include place of birth, address and phone. The
// clerk's home then shows the rejection's reason.
func TestSupervisorDetailFitsAndClerkSeesReason(t *testing.T) {
	s := newSupStation(t)
	bona := s.enroll("clara", "bona.jpg", "BONA")
	s.enroll("clara", "bona3.jpg", "BONA")
	s.enroll("clara", "bona2.jpg", "BONA") // duplicates make the detail long
	own := s.enroll("sue", "luda.jpg", "LUDA")

	sue := s.shellFor("sue", "")
	// Sue is also a clerk: her home has tabs; the queue is one of them.
	q := findQueue(t, sue)
	for _, o := range test.LaidOutObjects(sue.win.Content()) {
		if tabs, ok := o.(*container.AppTabs); ok {
			for _, it := range tabs.Items {
				if it.Text == "Review queue" {
					tabs.Select(it)
				}
			}
		}
	}
	for _, id := range []string{bona, own} {
		q.showDetail(id)
		sue.win.Content().Refresh()
		for name, b := range map[string]fyne.CanvasObject{"Approve": q.approveBtn, "Reject": q.rejectBtn} {
			if !inWindow(sue, b) {
				t.Errorf("%s: %s at %v size %v is not on show in the window", id, name, sue.app.Driver().AbsolutePositionForObject(b), b.Size())
			}
		}
	}
	m := markup(sue)
	if !strings.Contains(m, "You captured this enrollment") {
		t.Error("own capture not marked")
	}
	q.showDetail(bona)
	m = markup(sue)
	for _, want := range []string{"Place of birth", "广州", "Address", "德辅道中 88 号", "999077", "Phone", "+85291234567"} {
		if !strings.Contains(m, want) {
			t.Errorf("detail lacks %q", want)
		}
	}
	shoot(t, sue, "supervisor-queue")

	sam := s.shellFor("sam", "")
	if err := q.rejectAs(s.login("sam"), bona, "poor-photo"); err != nil {
		t.Fatal(err)
	}
	_ = sam
	clara := s.shellFor("clara", "")
	home, ok := clara.current.(*clerkHome)
	if !ok {
		t.Fatalf("clerk home is %T", clara.current)
	}
	var shown string
	for _, e := range home.rows {
		if e.Status == vault.StatusRejected {
			shown = test.RenderToMarkup(clara.win.Canvas())
		}
	}
	if !strings.Contains(shown, "Rejected: The photo is not good enough for the card") {
		t.Errorf("clerk's home does not show the reason:\n%s", shown)
	}
}

func findQueue(t *testing.T, sh *shell) *reviewQueue {
	t.Helper()
	var q *reviewQueue
	old := sh.notify
	sh.notify = func(ev string, x any) {
		if r, ok := x.(*reviewQueue); ok && ev == "review-queue" {
			q = r
		}
	}
	sh.home()
	sh.notify = old
	if q == nil {
		t.Fatal("no review queue on the home screen")
	}
	return q
}
