package biometrics

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"enrollstation/internal/testenv"
)

type pairDist struct {
	a, b string
	same bool
	d    float64
}

// photoPairs assesses every single-person test photo (downscaled to 1280 px like any
// input) and returns the descriptor distance of every pair. A file stem without its
// trailing digits names the person.
func photoPairs(t testing.TB) (pairs []pairDist, skipped []string) {
	a := assessor(t)
	files, err := filepath.Glob(filepath.Join(testenv.FacesDir(t), "*.jpg"))
	if err != nil || len(files) < 10 {
		t.Fatalf("test photos: %v (%d files)", err, len(files))
	}
	type entry struct {
		name, person string
		tpl          Template
	}
	var es []entry
	for _, f := range files {
		name := filepath.Base(f)
		if name == "pristin.jpg" { // the group photo
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rep, err := a.AssessBytes(b)
		if errors.Is(err, ErrNoFace) {
			skipped = append(skipped, name)
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		es = append(es, entry{name, strings.TrimRightFunc(strings.TrimSuffix(name, ".jpg"), unicode.IsDigit), *rep.Template})
	}
	for i := range es {
		for j := i + 1; j < len(es); j++ {
			c, err := Verify(es[i].tpl, es[j].tpl, 0)
			if err != nil {
				t.Fatal(err)
			}
			pairs = append(pairs, pairDist{es[i].name, es[j].name, es[i].person == es[j].person, c.Distance})
		}
	}
	sort.Slice(pairs, func(i, j int) bool { return pairs[i].d < pairs[j].d })
	return pairs, skipped
}

func rates(pairs []pairDist, th float64) (fmr, fnmr float64, fm, fnm, gen, imp int) {
	for _, p := range pairs {
		if p.same {
			gen++
			if p.d > th {
				fnm++
			}
		} else {
			imp++
			if p.d <= th {
				fm++
			}
		}
	}
	return float64(fm) / float64(imp), float64(fnm) / float64(gen), fm, fnm, gen, imp
}

// TestCalibration recomputes the figures in docs/quality.md: at DefaultThreshold (0.40) at
// most 3% of the impostor pairs match (the measured FMR is 3/181), and dlib's usual 0.6
// lets most impostors through. Run with -v to print every pair and the error rates at
// other thresholds.
func TestCalibration(t *testing.T) {
	pairs, skipped := photoPairs(t)
	if testing.Verbose() {
		for _, p := range pairs {
			fmt.Printf("%.4f same=%-5v %s %s\n", p.d, p.same, p.a, p.b)
		}
		for th := 0.36; th <= 0.601; th += 0.02 {
			fmr, fnmr, fm, fnm, gen, imp := rates(pairs, th)
			fmt.Printf("threshold %.2f: FMR %.4f (%d/%d) FNMR %.4f (%d/%d)\n", th, fmr, fm, imp, fnmr, fnm, gen)
		}
		fmt.Println("no face found (HOG at 1280 px):", skipped)
	}
	fmr, fnmr, fm, fnm, gen, imp := rates(pairs, DefaultThreshold)
	t.Logf("threshold %.2f: FMR %.4f (%d/%d), FNMR %.4f (%d/%d)", DefaultThreshold, fmr, fm, imp, fnmr, fnm, gen)
	if gen < 8 || imp < 150 {
		t.Fatalf("only %d genuine and %d impostor pairs", gen, imp)
	}
	if fmr > 0.03 {
		t.Errorf("at threshold %.2f: FMR %.4f; docs/quality.md says <= 3%%", DefaultThreshold, fmr)
	}
	if fnm == 0 {
		t.Errorf("at threshold %.2f no genuine pair fails; docs/quality.md says most do: recalibrate", DefaultThreshold)
	}
	if fmr06, fnmr06, _, _, _, _ := rates(pairs, 0.6); fmr06 < 0.5 || fnmr06 > 0 {
		t.Errorf("at 0.6: FMR %.3f, FNMR %.3f; docs/quality.md says FMR > 50%% and FNMR 0", fmr06, fnmr06)
	}
}
