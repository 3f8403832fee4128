package app

import (
	"testing"

	"fyne.io/fyne/v2/test"
)

// A language chosen at login is the operator's own: the next operator gets the station's
// language, and the first gets theirs back at the next login without choosing.
func TestLanguageIsPerOperator(t *testing.T) {
	h := newHarness(t, "synthetic:640x360@10")
	t.Cleanup(func() { setLanguage("en") })
	login := func(user, pw, lang string) *clerkHome {
		t.Helper()
		f := wait[*loginForm](h, "screen")
		if lang != "" {
			f.lang.SetSelected(languageName(lang))
			f = wait[*loginForm](h, "screen")
		}
		f.user.SetText(user)
		test.Type(f.pass, pw)
		test.Tap(f.submit)
		return wait[*clerkHome](h, "screen")
	}
	home := login("clerk", clerkPW, "zh")
	if currentLanguage() != "zh" || home.newBtn.Text != "新登记" {
		t.Fatalf("clerk's home in %s: %q", currentLanguage(), home.newBtn.Text)
	}
	h.sh.logout()
	if currentLanguage() != "en" {
		t.Errorf("login screen after logout in %s, want the station's en", currentLanguage())
	}
	home = login("clerk2", clerk2PW, "")
	if currentLanguage() != "en" || home.newBtn.Text != "New enrollment" {
		t.Errorf("clerk2 inherited %s: %q", currentLanguage(), home.newBtn.Text)
	}
	h.sh.logout()
	home = login("clerk", clerkPW, "")
	if currentLanguage() != "zh" || home.newBtn.Text != "新登记" {
		t.Errorf("clerk's kept language not applied: %s %q", currentLanguage(), home.newBtn.Text)
	}
}
