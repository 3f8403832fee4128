package app

import (
	"enrollstation/enroll"
	"enrollstation/vault"
)

// stationLanguage is the administrator's station language ("en" when unset).
func (sh *shell) stationLanguage() string {
	if l := sh.settings().Language; l != "" {
		return l
	}
	return "en"
}

// applyLanguagePreference runs at each login (UI thread, before the home screen is
// built): a language chosen on the login screen becomes the operator's own and is kept;
// otherwise the operator's kept language, else the station's, is used. So nobody
// inherits the previous operator's language.
func (sh *shell) applyLanguagePreference(s *vault.Session) {
	chosen := sh.langChosen
	sh.langChosen = false
	if chosen {
		if err := enroll.SetOperatorLanguage(sh.station, s, currentLanguage()); err != nil {
			sh.emit("language-error", err) // the choice still holds for this session
		}
		return
	}
	want := sh.settings().OperatorLanguage[s.Name]
	if want == "" {
		want = sh.stationLanguage()
	}
	if want != currentLanguage() {
		setLanguage(want)
	}
}

// restoreStationLanguage puts the login screen back in the station's language (logout).
func (sh *shell) restoreStationLanguage() {
	sh.langChosen = false
	if l := sh.stationLanguage(); l != currentLanguage() {
		setLanguage(l)
	}
}
