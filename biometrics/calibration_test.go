package biometrics

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"unicode"

	"enrollstation/internal/testenv"
	"gocv.io/x/gocv"
)

var chipsDir = flag.String("chips", "", "TestCalibration writes each photo's face chip (what the descriptor network sees) as a PNG to this directory")

// calibPhoto is one single-person test photo as the final assessment saw it.
type calibPhoto struct {
	name, person string
	tpl          Template // from Assess (DefaultConfig, jitter 0)
	work         gocv.Mat // the analysis copy Assess made (1280 px)
	pts          [][2]float64
}

// calibPhotos assesses every single-person test photo with DefaultConfig. A file stem
// without its trailing digits names the person; pristin.jpg, the group photo, is left
// out. The caller closes each work Mat.
func calibPhotos(t testing.TB, a *Assessor) []calibPhoto {
	files, err := filepath.Glob(filepath.Join(testenv.FacesDir(t), "*.jpg"))
	if err != nil || len(files) < 10 {
		t.Fatalf("test photos: %v (%d files)", err, len(files))
	}
	var ps []calibPhoto
	for _, f := range files {
		name := filepath.Base(f)
		if name == "pristin.jpg" {
			continue
		}
		m := decodeFace(t, name)
		rep, err := a.Assess(m)
		if errors.Is(err, ErrNoFace) {
			t.Errorf("%s: no face found; the calibration counts on all 21 photos", name)
			m.Close()
			continue
		}
		if err != nil || rep.Template == nil {
			t.Fatalf("%s: %v (template %v)", name, err, rep.Template)
		}
		// Assess's analysis copy, made the same way, to make other descriptors from the
		// same landmarks (checked below: jitter 0 gives the template itself).
		work := m.Clone()
		if rep.Scale != 1 {
			gocv.Resize(work, &work, image.Pt(int(float64(m.Cols())*rep.Scale+0.5), int(float64(m.Rows())*rep.Scale+0.5)), 0, 0, gocv.InterpolationArea)
		}
		m.Close()
		ps = append(ps, calibPhoto{
			name:   name,
			person: strings.TrimRightFunc(strings.TrimSuffix(name, ".jpg"), unicode.IsDigit),
			tpl:    *rep.Template,
			work:   work,
			pts:    facePoints(rep.Face.scaled(rep.Scale)),
		})
	}
	return ps
}

type pairDist struct {
	a, b string
	same bool
	d    float64
}

// pairs returns the distance of every pair of templates, nearest first.
func pairs(t testing.TB, names, persons []string, tpls []Template) []pairDist {
	var ps []pairDist
	for i := range tpls {
		for j := i + 1; j < len(tpls); j++ {
			c, err := Verify(tpls[i], tpls[j], 0)
			if err != nil {
				t.Fatal(err)
			}
			ps = append(ps, pairDist{names[i], names[j], persons[i] == persons[j], c.Distance})
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].d < ps[j].d })
	return ps
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

// eer is the equal error rate: over every threshold between two observed distances, the
// mean of FMR and FNMR where they are closest.
func eer(pairs []pairDist) (rate, th float64) {
	best := math.Inf(1)
	cands := []float64{0}
	for _, p := range pairs {
		cands = append(cands, p.d)
	}
	for _, c := range cands {
		fmr, fnmr, _, _, _, _ := rates(pairs, c)
		if gap := math.Abs(fmr - fnmr); gap < best {
			best, rate, th = gap, (fmr+fnmr)/2, c
		}
	}
	return rate, th
}

// search1N is the 1:N evaluation through Gallery.Search: each photo is searched against
// a gallery of all the other photos (a mated search when its person has another photo)
// and, for the non-mated searches, against the others less the same person's (so every
// photo gives one non-mated search). L candidates are returned, as the duplicate check
// lists them.
type search1N struct {
	mated, nonMated int
	rank1           int       // mated searches whose nearest candidate is a mate
	mateDist        []float64 // per mated search: the distance of the nearest mate within rank L (Inf if none)
	rank1Dist       []float64 // per non-mated search: the distance of its nearest candidate
}

const candidatesL = 3 // enroll.ReviewCandidates

func evaluate1N(t testing.TB, names, persons []string, tpls []Template) search1N {
	var s search1N
	for q := range tpls {
		for _, mated := range []bool{true, false} {
			g := NewGallery()
			hasMate := false
			for i := range tpls {
				if i == q || !mated && persons[i] == persons[q] {
					continue
				}
				hasMate = hasMate || persons[i] == persons[q]
				if err := g.Add(names[i], tpls[i]); err != nil {
					t.Fatal(err)
				}
			}
			if mated && !hasMate {
				continue
			}
			ms, err := g.Search(tpls[q], candidatesL, 0)
			if err != nil || len(ms) == 0 {
				t.Fatalf("search %s: %v, %d candidates", names[q], err, len(ms))
			}
			person := func(id string) string { return strings.TrimRightFunc(strings.TrimSuffix(id, ".jpg"), unicode.IsDigit) }
			if mated {
				s.mated++
				if person(ms[0].ID) == persons[q] {
					s.rank1++
				}
				d := math.Inf(1)
				for _, m := range ms {
					if person(m.ID) == persons[q] {
						d = math.Min(d, m.Distance)
					}
				}
				s.mateDist = append(s.mateDist, d)
			} else {
				s.nonMated++
				s.rank1Dist = append(s.rank1Dist, ms[0].Distance)
			}
		}
	}
	return s
}

// rates at threshold th: FNIR, mated searches with no mate among the L candidates within
// th; FPIR, non-mated searches with any candidate within th.
func (s search1N) rates(th float64) (fpir, fnir float64, fp, fn int) {
	for _, d := range s.mateDist {
		if d > th {
			fn++
		}
	}
	for _, d := range s.rank1Dist {
		if d <= th {
			fp++
		}
	}
	return float64(fp) / float64(s.nonMated), float64(fn) / float64(s.mated), fp, fn
}

// calibration holds the figures of one template setting.
type calibration struct {
	jitter    int
	pairs     []pairDist
	eer, eerT float64
	s         search1N
}

func calibrate(t testing.TB, photos []calibPhoto, jitter int) calibration {
	names, persons, tpls := make([]string, len(photos)), make([]string, len(photos)), make([]Template, len(photos))
	for i, p := range photos {
		names[i], persons[i] = p.name, p.person
		tpls[i] = p.tpl
		if jitter > 0 {
			d, err := recognizer(t).describePoints(p.work, p.pts, jitter, nil)
			if err != nil {
				t.Fatal(err)
			}
			tpls[i] = NewTemplate(d, jitter)
		}
	}
	c := calibration{jitter: jitter, pairs: pairs(t, names, persons, tpls), s: evaluate1N(t, names, persons, tpls)}
	c.eer, c.eerT = eer(c.pairs)
	return c
}

var calibThresholds = []float64{0.30, 0.34, 0.36, 0.38, 0.40, 0.42, 0.44, 0.46, 0.48, 0.50, 0.55, 0.60}

func (c calibration) print() {
	fmt.Printf("\njitter %d: EER %.3f at %.4f; rank-1 %d/%d\n", c.jitter, c.eer, c.eerT, c.s.rank1, c.s.mated)
	fmt.Println("| Threshold | FMR | FNMR | FPIR | FNIR |\n|---|---|---|---|---|")
	for _, th := range calibThresholds {
		fmr, fnmr, fm, fnm, gen, imp := rates(c.pairs, th)
		fpir, fnir, fp, fn := c.s.rates(th)
		fmt.Printf("| %.2f | %.4f (%d/%d) | %.3f (%d/%d) | %.3f (%d/%d) | %.3f (%d/%d) |\n", th, fmr, fm, imp, fnmr, fnm, gen, fpir, fp, c.s.nonMated, fnir, fn, c.s.mated)
	}
	for _, p := range c.pairs {
		if p.same {
			fmt.Printf("  genuine %.4f %s %s\n", p.d, p.a, p.b)
		}
	}
	n := 0
	for _, p := range c.pairs {
		if !p.same && n < 5 {
			fmt.Printf("  impostor %.4f %s %s\n", p.d, p.a, p.b)
			n++
		}
	}
}

// TestCalibration recomputes the figures of docs/quality.md ("Threshold calibration"):
// 1:1 error rates and EER, and 1:N identification through Gallery.Search, for templates
// from our detection and 68-point alignment with jitter 0 (the default) and 10. It also
// checks that the template is the descriptor of the face the measures judged (its 68
// landmarks) and that the chip is RGB. Run with -v for the tables, -chips DIR to write
// the face chips.
func TestCalibration(t *testing.T) {
	photos := calibPhotos(t, assessor(t))
	defer func() {
		for _, p := range photos {
			p.work.Close()
		}
	}()
	// The reconstruction of Assess's analysis copy is exact: the same landmarks give
	// the template itself.
	redder := 0.0
	for _, p := range photos {
		chip := make([]byte, 150*150*3)
		d, err := recognizer(t).describePoints(p.work, p.pts, 0, chip)
		if err != nil {
			t.Fatal(err)
		}
		if dd := d.Distance(p.tpl.Descriptor); dd > 1e-6 {
			t.Fatalf("%s: descriptor from the reconstructed analysis copy is %.6f from the template", p.name, dd)
		}
		if *chipsDir != "" {
			writeChip(t, filepath.Join(*chipsDir, strings.TrimSuffix(p.name, ".jpg")+".png"), chip)
		}
		// The network reads RGB. A BGR chip barely moves the error rates on these photos
		// (tried: EER 0.441) but shifts every distance, so check the colour order here:
		// skin in the middle of the chip is redder than it is blue.
		var red, blue int
		for y := 50; y < 100; y++ {
			for x := 50; x < 100; x++ {
				red += int(chip[3*(150*y+x)])
				blue += int(chip[3*(150*y+x)+2])
			}
		}
		if red <= blue {
			t.Errorf("%s: face chip mean red %d, blue %d: not an RGB chip of skin", p.name, red/2500, blue/2500)
		}
		redder += float64(red-blue) / 2500 / float64(len(photos))
	}
	if redder < 15 {
		t.Errorf("face chips on average only %.1f levels redder than blue: not RGB chips of skin", redder)
	}
	plain, jit := calibrate(t, photos, 0), calibrate(t, photos, 10)
	if testing.Verbose() {
		plain.print()
		jit.print()
	}
	for _, c := range []calibration{plain, jit} {
		fmr, fnmr, fm, fnm, gen, imp := rates(c.pairs, DefaultThreshold)
		fpir, fnir, fp, fn := c.s.rates(DefaultThreshold)
		t.Logf("jitter %d: EER %.3f at %.3f; at %.2f FMR %.4f (%d/%d) FNMR %.3f (%d/%d); rank-1 %d/%d, FPIR %.3f (%d), FNIR %.3f (%d)",
			c.jitter, c.eer, c.eerT, DefaultThreshold, fmr, fm, imp, fnmr, fnm, gen, c.s.rank1, c.s.mated, fpir, fp, fnir, fn)
		if gen != 11 || imp != 199 || c.s.mated != 11 || c.s.nonMated != 21 {
			t.Fatalf("jitter %d: %d genuine and %d impostor pairs, %d mated and %d non-mated searches; docs/quality.md has 11, 199, 11, 21",
				c.jitter, gen, imp, c.s.mated, c.s.nonMated)
		}
		// docs/quality.md: EER ≈ 44% for both; rank-1 7/11 (jitter 0) and 8/11 (10). The
		// go-face templates before (5-point alignment of go-face's own detection) gave
		// rank-1 5/11, and FPIR 5/21 at 0.40.
		if c.eer > 0.48 || c.eer < 0.30 {
			t.Errorf("jitter %d: EER %.3f; docs/quality.md says about 0.44", c.jitter, c.eer)
		}
		if c.s.rank1 < 6 {
			t.Errorf("jitter %d: rank-1 identification %d/%d; docs/quality.md says 7 or 8 of 11", c.jitter, c.s.rank1, c.s.mated)
		}
		if fmr06, _, _, _, _, _ := rates(c.pairs, 0.6); fmr06 < 0.5 {
			t.Errorf("jitter %d: FMR %.3f at dlib's usual 0.6; docs/quality.md says most impostors pass there", c.jitter, fmr06)
		}
		if c.jitter != 0 {
			continue
		}
		// The default (jitter 0, DefaultThreshold): FMR 2/199, FPIR 3/21, most genuine
		// pairs refused.
		if fmr > 0.02 || fpir > 0.2 || fnm < gen/2 {
			t.Errorf("at the default threshold %.2f: FMR %.4f, FPIR %.3f, FNMR %d/%d; docs/quality.md says <= 2%%, <= 20%% and most genuine pairs refused",
				DefaultThreshold, fmr, fpir, fnm, gen)
		}
	}
}

// writeChip writes a 150x150 RGB chip as PNG.
func writeChip(t testing.TB, path string, rgb []byte) {
	img := image.NewRGBA(image.Rect(0, 0, 150, 150))
	for i := 0; i < 150*150; i++ {
		img.Set(i%150, i/150, color.RGBA{rgb[3*i], rgb[3*i+1], rgb[3*i+2], 255})
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

// TestPre13TemplatesComparable: templates stored before issue 13 (go-face: its own HOG box
// and 5-point alignment; testdata/pre13 holds ones that code made from the test photos)
// keep the model ID and stay comparable with today's (68-point alignment): a photo's old
// and new templates are close, an old template still matches the same person's new one
// and not another person's.
func TestPre13TemplatesComparable(t *testing.T) {
	a := assessor(t)
	old := map[string]Template{}
	now := map[string]Template{}
	for _, n := range []string{"bona", "bona3", "luda"} {
		b, err := os.ReadFile(filepath.Join("testdata", "pre13", n+".eft"))
		if err != nil {
			t.Fatal(err)
		}
		var o Template
		if err := o.UnmarshalBinary(b); err != nil {
			t.Fatal(err)
		}
		m := decodeFace(t, n+".jpg")
		rep, err := a.Assess(m)
		m.Close()
		if err != nil {
			t.Fatal(err)
		}
		old[n], now[n] = o, *rep.Template
		c, err := Verify(o, *rep.Template, 0)
		if err != nil {
			t.Fatalf("%s: old template refused: %v", n, err)
		}
		t.Logf("%s: old vs new template %.4f", n, c.Distance)
		if c.Distance > 0.2 {
			t.Errorf("%s: old and new templates of the same photo %.4f apart; docs/quality.md says 0.07–0.18", n, c.Distance)
		}
	}
	for _, tc := range []struct {
		a, b  string
		match bool
	}{{"bona", "bona3", true}, {"bona3", "bona", true}, {"luda", "bona", false}, {"bona", "luda", false}} {
		c, err := Verify(old[tc.a], now[tc.b], 0)
		t.Logf("old %s vs new %s: %.4f", tc.a, tc.b, c.Distance)
		if err != nil || c.Match != tc.match {
			t.Errorf("old %s vs new %s: %+v %v, want match %v", tc.a, tc.b, c, err, tc.match)
		}
	}
}
