package app

import (
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"enrollstation/vault"
)

// The idle lock warns 30 s ahead (activity withdraws the warning), typing in a dialog
// counts as activity, and the lock closes the dialog without running its action.
func TestIdleLockWarnsCountsDialogsAndClosesThem(t *testing.T) {
	s := newSupStation(t)
	id := s.enroll("clara", "bona.jpg", "BONA")
	sam := s.shellFor("sam", "")
	q := findQueue(t, sam)
	warned := make(chan bool, 10)
	sam.notify = func(ev string, x any) {
		if ev == "idle-warning" {
			warned <- x.(bool)
		}
	}
	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	sam.now = func() time.Time { return clock }

	q.showDetail(id)
	test.Tap(q.approveBtn) // the password dialog
	ov := sam.win.Canvas().Overlays()
	if ov.Top() == nil {
		t.Fatal("no dialog on show")
	}
	var pw *widget.Entry
	for _, o := range test.LaidOutObjects(ov.Top()) {
		if e, ok := o.(*widget.Entry); ok && e.Password {
			pw = e
		}
	}
	if pw == nil {
		t.Fatal("no password entry in the dialog")
	}
	sam.idle.start(time.Hour)
	clock = clock.Add(4 * time.Minute)
	test.Type(pw, "sam-pass")
	if got := sam.idle.lastActivity(); !got.Equal(clock) {
		t.Errorf("typing in the dialog did not count: last activity %v, want %v", got, clock)
	}

	// Armed with 30 s (the warning's lead) plus a little: the warning comes at once.
	sam.idle.start(idleWarning + 50*time.Millisecond)
	if !waitBool(t, warned) {
		t.Fatal("withdrawn before shown")
	}
	root := sam.win.Content().(*activityRoot)
	if !root.warning.Visible() || !strings.Contains(test.RenderToMarkup(sam.win.Canvas()), "locks in 30 seconds") {
		t.Error("warning not on show")
	}
	test.Type(pw, "w")
	if waitBool(t, warned) || root.warning.Visible() {
		t.Error("activity did not withdraw the warning")
	}

	sam.lock()
	if ov.Top() != nil {
		t.Fatalf("%d dialog(s) still over the lock screen", len(ov.List()))
	}
	if e, _ := s.st.Enrollment(id); e.Status != vault.StatusPending {
		t.Errorf("the closed dialog's action ran: %s", e.Status)
	}
}

func waitBool(t *testing.T, c chan bool) bool {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(30 * time.Second):
		t.Fatal("no idle-warning event")
		return false
	}
}
