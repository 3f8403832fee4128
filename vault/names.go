package vault

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/secure/precis"
)

// ErrBadName means an operator name was refused: it is not a PRECIS username (RFC 8265),
// or it mixes scripts so that it could pass for another name.
var ErrBadName = errors.New("vault: operator names are 1-64 letters or digits of one script (with . _ -), no spaces, control, invisible or direction characters")

// CanonicalName checks a new operator name and returns the form it is stored and
// logged in under: PRECIS UsernameCaseMapped (width-mapped, lower-cased, NFC), which
// refuses control characters, escape codes, zero-width and bidirectional-override
// characters; then a single-script rule (UTS #39 "highly restrictive", so that a
// Cyrillic "ѕ" cannot make "ѕam" look like "sam"). The error never repeats the name: it
// may hold characters that deceive a terminal.
func CanonicalName(name string) (string, error) {
	if name == "" || len(name) > 64 {
		return "", fmt.Errorf("%w (1 to 64 characters)", ErrBadName)
	}
	n, err := precis.UsernameCaseMapped.String(name)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadName, err)
	}
	if n == "" || len(n) > 64 || strings.ContainsAny(n, "/\\") {
		return "", fmt.Errorf("%w (no slashes)", ErrBadName)
	}
	for _, r := range n {
		// PRECIS's IdentifierClass allows ASCII punctuation; keep names to what reads
		// unambiguously in a list and an audit line.
		if r < utf8.RuneSelf && !(unicode.IsLetter(r) || unicode.IsDigit(r) || r == '.' || r == '_' || r == '-') {
			return "", fmt.Errorf("%w (punctuation other than . _ -)", ErrBadName)
		}
	}
	if !plainMarks(n) {
		return "", fmt.Errorf("%w (stray combining marks)", ErrBadName)
	}
	if !singleScript(n) {
		return "", fmt.Errorf("%w (letters of several scripts mixed)", ErrBadName)
	}
	return n, nil
}

// plainMarks refuses combining marks that draw over or beside letters where nobody's
// name needs them: after NFC, Latin, Greek and Cyrillic names have precomposed letters,
// so a mark left there (U+0338 over "a") only disguises; and runs of more than two
// marks in any script.
func plainMarks(s string) bool {
	run := 0
	var base *unicode.RangeTable
	for _, r := range s {
		if !unicode.In(r, unicode.Mn, unicode.Me) {
			run, base = 0, scriptOf(r)
			continue
		}
		run++
		if run > 2 || base == nil || base == unicode.Latin || base == unicode.Greek || base == unicode.Cyrillic {
			return false
		}
	}
	return true
}

// scriptSets are the combinations of scripts that count as one writing system
// (UTS #39 section 5.2, highly restrictive): Japanese, Chinese with Bopomofo, Korean.
var scriptSets = [][]*unicode.RangeTable{
	{unicode.Han, unicode.Hiragana, unicode.Katakana},
	{unicode.Han, unicode.Bopomofo},
	{unicode.Han, unicode.Hangul},
}

var scripts = func() []*unicode.RangeTable {
	var out []*unicode.RangeTable
	for name, t := range unicode.Scripts {
		if name != "Common" && name != "Inherited" {
			out = append(out, t)
		}
	}
	return out
}()

func scriptOf(r rune) *unicode.RangeTable {
	for _, t := range scripts {
		if unicode.Is(t, r) {
			return t
		}
	}
	return nil // Common or Inherited (digits, '.', combining marks)
}

// singleScript reports whether every letter of s is of one script, or of one of
// scriptSets.
func singleScript(s string) bool {
	seen := map[*unicode.RangeTable]bool{}
	for _, r := range s {
		if t := scriptOf(r); t != nil {
			seen[t] = true
		}
	}
	if len(seen) <= 1 {
		return true
	}
	for _, set := range scriptSets {
		all := true
		for t := range seen {
			in := false
			for _, u := range set {
				in = in || u == t
			}
			all = all && in
		}
		if all {
			return true
		}
	}
	return false
}

// loginName maps what someone typed at a login prompt to a stored name: the canonical
// form, or the name as typed for accounts made before names were canonical.
func (tx *Tx) loginName(typed string) (canonical string, o *Operator, err error) {
	canonical, cerr := CanonicalName(typed)
	if cerr == nil {
		o, err = tx.Operator(canonical)
		if err == nil || !errors.Is(err, ErrNotFound) {
			return canonical, o, err
		}
	}
	if validName(typed) == nil {
		if o, err = tx.Operator(typed); err == nil || !errors.Is(err, ErrNotFound) {
			return typed, o, err
		}
	}
	notFound := fmt.Errorf("vault: no operator of that name: %w", ErrNotFound)
	if cerr != nil {
		return "", nil, notFound
	}
	return canonical, nil, notFound
}
