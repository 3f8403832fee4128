package app

import (
	"os"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"

	"enrollstation/assets"
)

// Languages the station's screens are translated into, as offered at the login screen.
var languages = []struct{ Code, Name string }{
	{"en", "English"},
	{"zh", "中文（简体）"},
}

// initLanguage loads the station's translations (assets/translations) into Fyne's lang
// package. English strings are the keys, so a missing translation shows English.
func initLanguage() {
	if err := lang.AddTranslationsFS(assets.Translations, "translations"); err != nil {
		fyne.LogError("loading translations", err)
	}
}

// tr translates an English message (the key) into the current language.
func tr(s string, data ...any) string { return lang.L(s, data...) }

// setLanguage switches the screens' language at run time. Fyne 2.7 chooses the language
// from the process locale (LANGUAGE first) when translations are added and has no setter,
// so we set LANGUAGE and re-add our translations, which makes Fyne pick again; screens
// are then rebuilt by the caller.
func setLanguage(code string) {
	os.Setenv("LANGUAGE", code)
	for _, l := range languages {
		if l.Code != code {
			continue
		}
		data, err := assets.Translations.ReadFile("translations/" + code + ".json")
		if err != nil {
			fyne.LogError("reading translation "+code, err)
			return
		}
		if err := lang.AddTranslationsForLocale(data, fyne.Locale(code)); err != nil {
			fyne.LogError("loading translation "+code, err)
		}
	}
}

// currentLanguage is the language code the screens are in ("en" or "zh").
func currentLanguage() string {
	if strings.HasPrefix(tr("LANGUAGE_CODE"), "zh") {
		return "zh"
	}
	return "en"
}
