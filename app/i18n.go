package app

import (
	"fmt"
	"os"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/lang"

	"enrollstation/assets"
	"enrollstation/vault"
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

// tr translates an English message (the key) into the current language, then formats
// it with args like fmt.Sprintf (translations keep the same verbs, in order).
func tr(s string, args ...any) string {
	t := lang.L(s)
	if len(args) == 0 {
		return t
	}
	return fmt.Sprintf(t, args...)
}

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
		data, err := assets.Translations.ReadFile("translations/" + translationFile(code))
		if err != nil {
			fyne.LogError("reading translation "+code, err)
			return
		}
		if err := lang.AddTranslationsForLocale(data, fyne.Locale(strings.TrimSuffix(translationFile(code), ".json"))); err != nil {
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

// translationFile is the file of a language in assets/translations. Chinese is named
// zh-Hans (Simplified) to merge with Fyne's own zh-Hans translations, which Fyne's
// matcher picks for LANGUAGE=zh.
func translationFile(code string) string {
	if code == "zh" {
		return "zh-Hans.json"
	}
	return code + ".json"
}

// languageNames are the languages' own names, for choosing one.
func languageNames() []string {
	out := make([]string, len(languages))
	for i, l := range languages {
		out[i] = l.Name
	}
	return out
}

// languageName is a language code's name ("zh" → 中文（简体）); unknown codes stay as they are.
func languageName(code string) string {
	for _, l := range languages {
		if l.Code == code {
			return l.Name
		}
	}
	return code
}

// languageCode is the code of a language name (or of a code).
func languageCode(name string) string {
	for _, l := range languages {
		if l.Name == name || l.Code == name {
			return l.Code
		}
	}
	return name
}

// invalidText is the message of a refused value (vault.ErrInvalid) without the
// "vault: invalid record:" prefix, translated when the table has it (the workflow's
// checks are short English sentences, e.g. "idle lock must be 1 to 240 minutes").
func invalidText(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, vault.ErrInvalid.Error()+": "); i >= 0 {
		msg = msg[i+len(vault.ErrInvalid.Error())+2:]
	}
	msg = strings.TrimPrefix(msg, "workflow: ")
	t := tr(msg)
	if t == msg && msg != "" {
		t = strings.ToUpper(msg[:1]) + msg[1:] // untranslated: at least a sentence
	}
	return t
}
