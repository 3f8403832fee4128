package app

import (
	"strings"
	"testing"

	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"enrollstation/enroll"
	"enrollstation/internal/videotest"
)

func (h *harness) button(text string) *widget.Button {
	h.t.Helper()
	return find(h.t, h.sh, "button "+text, func(b *widget.Button) bool { return b.Text == text })
}

// Home or Log out on the review step asks first; Stay keeps the review, Discard leaves.
func TestLeavingReviewAsksFirst(t *testing.T) {
	needModels(t)
	h := newHarness(t, video(t, videotest.Good, "sejeong.jpg"))
	home := h.login("clerk", clerkPW)
	test.Tap(home.newBtn)
	d := wait[*detailsForm](h, "screen")
	fillValid(d)
	test.Tap(d.next)
	rv := wait[*reviewView](h, "screen")
	<-rv.ready

	test.Tap(h.button(tr("Home")))
	a := wait[*leaveAsk](h, "ask-leave")
	test.Tap(a.stay)
	if h.sh.current != rv {
		t.Fatalf("Stay left the review for %T", h.sh.current)
	}
	test.Tap(h.button(tr("Log out")))
	a = wait[*leaveAsk](h, "ask-leave")
	if h.sh.sess == nil {
		t.Fatal("logged out before the answer")
	}
	test.Tap(a.leave)
	wait[*loginForm](h, "screen")
	if h.sh.sess != nil {
		t.Error("still logged in after Discard and leave")
	}
}

// A clerk idle-locked during capture keeps the enrollment: another clerk logging in is
// told it is parked (and does not get it); the first clerk logs in again and is back in
// the capture step of the same application, with the camera running.
func TestIdleLockedDraftStaysWithItsClerk(t *testing.T) {
	needModels(t)
	h := newHarness(t, "synthetic:640x360@15")
	home := h.login("clerk", clerkPW)
	test.Tap(home.newBtn)
	d := wait[*detailsForm](h, "screen")
	fillValid(d)
	test.Tap(d.next)
	cv := wait[*captureView](h, "screen")
	wait[enroll.Live](h, "assessed")
	appNo := cv.e.appNo

	// Leaving the capture asks too.
	test.Tap(h.button(tr("Home")))
	test.Tap(wait[*leaveAsk](h, "ask-leave").stay)
	if h.sh.current != cv || cv.isDone() {
		t.Fatal("Stay stopped the capture")
	}

	h.sh.lock()
	lf := wait[*loginForm](h, "screen")
	lf.user.SetText("clerk2")
	test.Type(lf.pass, clerk2PW)
	test.Tap(lf.submit)
	wait[*clerkHome](h, "screen")
	if h.sh.parkedLabel == nil || !strings.Contains(h.sh.parkedLabel.Text, "clerk") {
		t.Fatalf("clerk2 is not told of the parked draft (%v)", h.sh.parkedLabel)
	}
	if _, ok := h.sh.current.(*captureView); ok {
		t.Fatal("clerk2 got clerk's capture")
	}
	test.Tap(h.button(tr("Log out")))
	lf = wait[*loginForm](h, "screen")
	lf.user.SetText("clerk")
	test.Type(lf.pass, clerkPW)
	test.Tap(lf.submit)
	back := wait[*captureView](h, "screen")
	if back.e.appNo != appNo || back.e.details.FamilyName != "陈" {
		t.Fatalf("clerk resumed into application %s (%q), want %s", back.e.appNo, back.e.details.FamilyName, appNo)
	}
	wait[enroll.Live](h, "assessed")
	if len(h.sh.parked) != 0 {
		t.Errorf("%d drafts still parked", len(h.sh.parked))
	}
}
