// Package clocale maps the POSIX "C" locale to English before Fyne's lang package reads
// it. Fyne's init cannot parse "C" and logs an error on every start, which would clutter
// every command's output on servers and kiosks that run with LANG=C.
//
// Import it blank, first, from main: Go initialises packages in import-path order once
// their own imports are ready, so this runs before fyne.io/fyne/v2/lang's init.
package clocale

import (
	"os"
	"strings"
)

func init() {
	for _, name := range []string{"LC_ALL", "LC_MESSAGES", "LANG", "LANGUAGE"} {
		v := os.Getenv(name)
		if v == "C" || v == "POSIX" || strings.HasPrefix(v, "C.") {
			os.Setenv(name, "en")
		}
	}
}
