package vault

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzCanonicalName: whatever is typed, an accepted name is stable (canonical twice
// is canonical once), of one script, short, and free of controls, format (invisible,
// bidi) characters, spaces and slashes.
func FuzzCanonicalName(f *testing.F) {
	for _, s := range []string{"sam", "Sam", "\u0455am", "sa\u200bm", "root\u202e", "王小明", "たなか太郎", "ｓａｍ", "a/b", "x\x1b[2J"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		n, err := CanonicalName(in)
		if err != nil {
			return
		}
		if again, err := CanonicalName(n); err != nil || again != n {
			t.Fatalf("CanonicalName(%q) = %q, but again %q, %v", in, n, again, err)
		}
		if n == "" || len(n) > 64 || strings.ContainsAny(n, "/\\ ") || !singleScript(n) {
			t.Fatalf("CanonicalName(%q) = %q", in, n)
		}
		for _, r := range n {
			if unicode.In(r, unicode.Cc, unicode.Cf, unicode.Zs, unicode.Zl, unicode.Zp, unicode.Co) {
				t.Fatalf("CanonicalName(%q) = %q holds %U", in, n, r)
			}
		}
	})
}
