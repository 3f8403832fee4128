package app

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"enrollstation/assets"
	"enrollstation/exporter"
	"enrollstation/vault"
)

// TestEveryMessageIsTranslated reads the app's sources for tr("…") calls with a literal
// message and checks that each has a Simplified Chinese translation with the same
// formatting verbs in the same order: a message added without one shows English on a
// Chinese station, and a translation with other verbs prints %!d(string=…).
func TestEveryMessageIsTranslated(t *testing.T) {
	zh := zhTranslations(t)
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	seen := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok || len(call.Args) == 0 {
				return true
			}
			if id, ok := call.Fun.(*ast.Ident); !ok || id.Name != "tr" {
				return true
			}
			lit, ok := call.Args[0].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			msg, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			seen++
			got, ok := zh[msg]
			switch {
			case !ok:
				t.Errorf("%s: no zh-Hans translation for %q", fset.Position(lit.Pos()), msg)
			case !slices.Equal(verbs(msg), verbs(got)):
				t.Errorf("%s: zh-Hans translation of %q has verbs %v, want %v", fset.Position(lit.Pos()), msg, verbs(got), verbs(msg))
			}
			return true
		})
	}
	if seen < 100 {
		t.Fatalf("found only %d tr calls: is the scan still reading the app's sources?", seen)
	}
}

var verbRE = regexp.MustCompile(`%[-+# 0-9.]*[a-zA-Z%]`)

func verbs(s string) []string { return verbRE.FindAllString(s, -1) }

// errText turns the disk-space errors into sentences with the sizes in MB.
func TestErrTextDiskSpace(t *testing.T) {
	for _, c := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("saving: %w", &vault.LowDiskError{Dir: "/var/lib/es", Free: 200 << 20, Need: 256 << 20}), "disk is almost full: 200 MB free, and 256 MB must stay free"},
		{fmt.Errorf("export: %w", &exporter.NoSpaceError{Dir: "/media/usb", Free: 2e6, Need: 3.5e6}), "medium /media/usb is too full: 2.0 MB free, the bundle needs 3.5 MB"},
		{&os.PathError{Op: "write", Path: "/x", Err: syscall.ENOSPC}, "A disk is full"},
		{&vault.LowDiskError{Dir: "/var/lib/es", Free: 0, Need: 128 << 20, AtOpen: true}, "cannot start: its disk is full (0 MB free)"},
	} {
		if got := errText(c.err); !strings.Contains(got, c.want) {
			t.Errorf("errText(%v) = %q, want it to contain %q", c.err, got, c.want)
		}
	}
}

// TestEverySelftestMessageIsTranslated reads selftest's sources for the messages its
// checks word (Textf, Errorf, because, and the hints of Hint and Warn) and checks that
// each has a zh-Hans translation with the same verbs: the diagnostics screen shows them
// through tr (trText), so one added without a translation is English on a Chinese screen.
func TestEverySelftestMessageIsTranslated(t *testing.T) {
	zh := zhTranslations(t)
	formatArg := map[string]int{"Textf": 0, "Errorf": 0, "because": 1, "Hint": 1, "Warn": 1}
	files, _ := filepath.Glob("../selftest/*.go")
	fset := token.NewFileSet()
	seen := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			call, ok := n.(*ast.CallExpr)
			if !ok {
				return true
			}
			id, ok := call.Fun.(*ast.Ident)
			if !ok {
				return true
			}
			i, ok := formatArg[id.Name]
			if !ok || len(call.Args) <= i {
				return true
			}
			lit, ok := call.Args[i].(*ast.BasicLit)
			if !ok || lit.Kind != token.STRING {
				return true
			}
			msg, err := strconv.Unquote(lit.Value)
			if err != nil {
				t.Fatal(err)
			}
			msg = strings.ReplaceAll(msg, "%w", "%v") // as selftest.Textf keeps it
			if msg == "%v" {
				return true
			}
			seen++
			got, ok := zh[msg]
			switch {
			case !ok:
				t.Errorf("%s: no zh-Hans translation for %q", fset.Position(lit.Pos()), msg)
			case !slices.Equal(verbs(msg), verbs(got)):
				t.Errorf("%s: zh-Hans translation of %q has verbs %v, want %v", fset.Position(lit.Pos()), msg, verbs(got), verbs(msg))
			}
			return true
		})
	}
	if seen < 40 {
		t.Fatalf("found only %d selftest messages: is the scan still reading selftest's sources?", seen)
	}
}

// zhTranslations reads the Simplified Chinese catalogue the app embeds.
func zhTranslations(t *testing.T) map[string]string {
	t.Helper()
	data, err := assets.Translations.ReadFile("translations/" + translationFile("zh"))
	if err != nil {
		t.Fatal(err)
	}
	var zh map[string]string
	if err := json.Unmarshal(data, &zh); err != nil {
		t.Fatal(err)
	}
	return zh
}
