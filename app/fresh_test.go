package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"

	"enrollstation/capture"
)

func selectTab(t *testing.T, sh *shell, title string) *container.TabItem {
	t.Helper()
	for _, it := range sh.homeTabs.Items {
		if it.Text == title {
			sh.homeTabs.Select(it)
			return it
		}
	}
	t.Fatalf("no tab %q", title)
	return nil
}

// Tabs built at login show the data of when they are opened; the dashboard's Refresh
// reloads in place and keeps its tab.
func TestTabsLoadOnOpenAndRefreshKeepsTab(t *testing.T) {
	s := newSupStation(t)
	s.enroll("clara", "bona.jpg", "BONA")
	sam := s.shellFor("sam", "")
	var audit *auditScreen
	var dash *dashboard
	var queue *reviewQueue
	sam.notify = func(ev string, x any) {
		switch v := x.(type) {
		case *auditScreen:
			audit = v
		case *dashboard:
			dash = v
		case *reviewQueue:
			queue = v
		}
	}
	sam.home()
	if audit == nil || dash == nil || queue == nil {
		t.Fatal("supervisor home lacks a screen")
	}
	before := len(audit.all)
	total := dash.stats.Total

	// Work happens after the tabs were built.
	id := s.enroll("clara", "luda.jpg", "LUDA")

	selectTab(t, sam, "Audit log")
	found := false
	for _, e := range audit.all {
		found = found || e.Object == id
	}
	if !found {
		t.Errorf("audit log opened after the enrollment lacks it (%d entries, %d before)", len(audit.all), before)
	}
	selectTab(t, sam, "Review queue")
	if len(queue.all) != 2 {
		t.Errorf("queue opened shows %d items, want 2", len(queue.all))
	}
	tab := selectTab(t, sam, "Dashboard")
	if dash.stats.Total != total+1 {
		t.Errorf("dashboard opened shows %d enrollments, want %d", dash.stats.Total, total+1)
	}
	s.enroll("clara", "nana.jpg", "NANA")
	test.Tap(dash.refreshBtn)
	if sam.homeTabs.Selected() != tab {
		t.Errorf("Refresh moved to the %q tab", sam.homeTabs.Selected().Text)
	}
	if dash.stats.Total != total+2 {
		t.Errorf("dashboard after Refresh shows %d enrollments, want %d", dash.stats.Total, total+2)
	}
}

// A calibration verdict is cleared when another camera is chosen or opened.
func TestCalibrationVerdictClearsOnCameraChange(t *testing.T) {
	s := newSupStation(t)
	sh := s.shellFor("tom", "synthetic")
	c := newCameraScreen(sh, &techState{})
	sh.win.SetContent(c.content)
	c.source.SetText("synthetic")
	c.resolution.SetSelected("640x480")
	c.fps.SetSelected("15")
	if err := c.start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan capture.Verdict, 1)
	c.calibrate(done)
	<-done
	c.stopPreview()
	if !strings.Contains(markup(sh), "Calibration:") {
		t.Fatal("no verdict shown")
	}
	c.source.SetText("/dev/video9")
	if len(c.verdict.Objects) != 0 || strings.Contains(markup(sh), "Calibration:") {
		t.Error("verdict still shown after choosing another camera")
	}
	if err := c.start(); err == nil {
		c.stopPreview()
	}
	if strings.Contains(markup(sh), "Calibration: PASS") {
		t.Error("PASS shown for a missing camera")
	}
}
