package app

import (
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// find returns the first object on show in sh's window matching ok.
func find[T fyne.CanvasObject](t *testing.T, sh *shell, what string, ok func(T) bool) T {
	t.Helper()
	for _, o := range test.LaidOutObjects(sh.win.Content()) {
		if x, is := o.(T); is && ok(x) {
			return x
		}
	}
	var zero T
	t.Fatalf("no %s on show", what)
	return zero
}

// TestMouseAndTypingResetIdleTimer: a supervisor working with the mouse only (a button
// tap, a table selection, a button of the detail pane shown after it) or typing into a
// focused entry postpones the idle lock, although no screen handler calls touch. The
// idle lock's clock is the shell's, driven by hand.
func TestMouseAndTypingResetIdleTimer(t *testing.T) {
	s := newSupStation(t)
	s.enroll("clara", "bona.jpg", "BONA")
	sam := s.shellFor("sam", "")

	clock := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	sam.now = func() time.Time { return clock }
	sam.idle.start(5 * time.Minute)
	step := func(what string, act func()) {
		t.Helper()
		clock = clock.Add(4 * time.Minute)
		before := sam.idle.lastActivity()
		act()
		if got := sam.idle.lastActivity(); !got.Equal(clock) {
			t.Errorf("%s: idle timer last reset at %v (before: %v), want %v", what, got, before, clock)
		}
	}

	reload := find(t, sam, "queue refresh button", func(b *widget.Button) bool {
		return b.Text == "" && b.Icon != nil && b.Icon.Name() == theme.ViewRefreshIcon().Name()
	})
	step("tap on the queue's refresh button", func() { test.Tap(reload) })

	filter := find(t, sam, "queue filter", func(e *widget.Entry) bool { return e.PlaceHolder == tr("Filter by name, application number or clerk") })
	step("typing in the filter", func() { test.Type(filter, "BO") })

	table := find(t, sam, "queue table", func(*widget.Table) bool { return true })
	step("selecting a queue row", func() { table.Select(widget.TableCellID{Row: 1, Col: 1}) })

	// The detail pane (and its Approve button) appeared after the screen was shown.
	approve := find(t, sam, "Approve button of the detail", func(b *widget.Button) bool { return b.Text == tr("Approve…") })
	if approve.Disabled() {
		t.Fatal("Approve is disabled")
	}
	step("tap on the detail's Approve", func() { test.Tap(approve) })

	// Pointer movement and background clicks reach the content root.
	root, ok := sam.win.Content().(*activityRoot)
	if !ok {
		t.Fatalf("window content is %T, want *activityRoot", sam.win.Content())
	}
	step("pointer move", func() { root.Cursor() })
	step("background scroll", func() { root.Scrolled(&fyne.ScrollEvent{}) })
}
