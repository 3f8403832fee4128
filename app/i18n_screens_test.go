package app

import (
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"

	"enrollstation/biometrics"
	"enrollstation/enroll"
	"enrollstation/internal/testenv"
)

// screenTexts are the texts on show in sh's window (labels, buttons, checks, selects,
// entries' placeholders, cards, tabs, canvas texts).
func screenTexts(sh *shell) []string {
	var out []string
	add := func(s ...string) {
		for _, x := range s {
			if strings.TrimSpace(x) != "" {
				out = append(out, x)
			}
		}
	}
	objs := test.LaidOutObjects(sh.win.Content())
	for _, o := range sh.win.Canvas().Overlays().List() {
		objs = append(objs, test.LaidOutObjects(o)...)
	}
	for _, o := range objs {
		switch w := o.(type) {
		case *widget.Label:
			add(w.Text)
		case *widget.Button:
			add(w.Text)
		case *widget.Check:
			add(w.Text)
		case *widget.Select:
			if w.Selected == "" {
				add(w.PlaceHolder)
			}
			add(w.Options...)
		case *widget.Entry:
			add(w.PlaceHolder)
		case *widget.Card:
			add(w.Title, w.Subtitle)
		case *widget.RadioGroup:
			add(w.Options...)
		case *canvas.Text:
			add(w.Text)
		case *widget.Table:
			add(tableTexts(w)...)
		case *container.AppTabs:
			for _, it := range w.Items {
				add(it.Text)
			}
		case *widget.Form:
			for _, it := range w.Items {
				add(it.Text, it.HintText)
			}
		}
	}
	return out
}

// tableTexts are the texts of every cell of a table of labels (headings and all rows,
// not only those scrolled into view), as its UpdateCell writes them.
func tableTexts(t *widget.Table) []string {
	if t.Length == nil || t.CreateCell == nil || t.UpdateCell == nil {
		return nil
	}
	var out []string
	rows, cols := t.Length()
	for r := 0; r < rows; r++ {
		for c := 0; c < cols; c++ {
			l, ok := t.CreateCell().(*widget.Label)
			if !ok {
				return out
			}
			t.UpdateCell(widget.TableCellID{Row: r, Col: c}, l)
			out = append(out, l.Text)
		}
	}
	return out
}

var englishWord = regexp.MustCompile(`[A-Za-z]{3,}`)

// dataWords are words that are data, codes or names, not wording to translate.
var dataWords = map[string]bool{}

func init() {
	for _, w := range strings.Fields(`Counter Town Hall clara sam sue tom root tina BONA LUDA NANA ICAO TPM CUPS PDF JPEG
		USB https http localhost lpadmin enrollstation fps swtpm synthetic video dev CHN HKG ISO IEC OFIQ DEMO
		software station pubkey OpenCV IBM out pem data SHA Station ID issuer key pub English cupstest BLAS OpenBLAS
		CPU gocv dlib badger AES pthreads openmp apt install config GStreamer`) {
		dataWords[strings.ToLower(w)] = true
	}
}

// hexRun is a key fingerprint or ID (data, whatever its letters spell).
var hexRun = regexp.MustCompile(`[0-9a-f]{4,}`)

// recordID is a record's ID (vault.NewID, with a letter for batches and profiles).
var recordID = regexp.MustCompile(`[A-Z]?\d{8}T\d{6}Z-[0-9a-f]{12}`)

// pathRun is a file or folder path, or an export target naming one (data).
var pathRun = regexp.MustCompile(`(?:dir:)?/[^\s,，、：）)]*`)

// techToken is a command-line flag, or a file, package or program name joined by - _ .
// (go-face, selftest-face.jpg, libopenblas0-serial, scripts/setup): data in a
// technician's hint.
var techToken = regexp.MustCompile(`--[a-z][a-z-]*|[A-Za-z0-9]+(?:[-_./][A-Za-z0-9]+)+`)

// dataTexts are test data typed by people (a clerk's reason), shown as typed.
var dataTexts = []string{"test photo, not an ICAO portrait"}

// untranslated returns the texts on show that still carry English words.
func untranslated(texts []string) []string {
	var bad []string
	for _, s := range texts {
		orig := s
		for _, d := range dataTexts {
			s = strings.ReplaceAll(s, d, "")
		}
		s = recordID.ReplaceAllString(s, "")
		s = techToken.ReplaceAllString(s, "") // before paths: "scripts/setup（…" is not all path
		s = pathRun.ReplaceAllString(s, "")
		s = hexRun.ReplaceAllString(s, "")
		for _, w := range englishWord.FindAllString(s, -1) {
			if !dataWords[strings.ToLower(w)] {
				bad = append(bad, orig)
				break
			}
		}
	}
	sort.Strings(bad)
	return bad
}

// Walk every role's screens in Chinese through the test driver: no text on show may
// carry English wording (measure names, audit actions, reasons, buttons, tabs...).
func TestNoUntranslatedTextOnScreens(t *testing.T) {
	s := newSupStation(t)
	id := s.enroll("clara", "bona.jpg", "BONA")
	s.enroll("clara", "bona3.jpg", "BONA")
	// Every operator's own language is Chinese (the station's stays English).
	for _, who := range []string{"clara", "tom", "root", "sam"} {
		if err := enroll.SetOperatorLanguage(s.st, s.login(who), "zh"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { setLanguage("en") })

	visit := func(who string, sh *shell, extra func()) {
		t.Helper()
		var tabs []*container.TabItem
		if sh.homeTabs != nil {
			tabs = sh.homeTabs.Items
		}
		check := func(where string) {
			t.Helper()
			if bad := untranslated(screenTexts(sh)); len(bad) > 0 {
				t.Errorf("%s, %s: English on a Chinese screen: %q", who, where, bad)
			}
		}
		if len(tabs) == 0 {
			check("home")
		}
		for _, it := range tabs {
			sh.homeTabs.Select(it)
			check(it.Text)
		}
		if extra != nil {
			extra()
		}
	}
	for _, who := range []string{"clara", "tom", "root"} {
		sh := s.shellFor(who, "synthetic")
		visit(who, sh, nil)
	}
	sam := s.shellFor("sam", "")
	q := findQueue(t, sam)
	visit("sam", sam, func() {
		sam.homeTabs.SelectIndex(0)
		q = findQueue(t, sam)
		for _, it := range sam.homeTabs.Items {
			if it.Content == q.content {
				sam.homeTabs.Select(it)
			}
		}
		q.showDetail(id)
		shoot(t, sam, "supervisor-detail-zh")
		if bad := untranslated(screenTexts(sam)); len(bad) > 0 {
			t.Errorf("sam, queue detail: English on a Chinese screen: %q", bad)
		}
		test.Tap(q.rejectBtn)
		if bad := untranslated(screenTexts(sam)); len(bad) > 0 {
			t.Errorf("sam, reject dialog: English on a Chinese screen: %q", bad)
		}
	})
}

// Every measure of a real report shows its value and unit in Chinese: the units the
// measures carry ("eye-chin / height", "lid gap / T", margins in T) are worded by the
// app, not shown as biometrics spells them.
func TestMeasureValuesInChinese(t *testing.T) {
	if testRec == nil {
		t.Skip("models not installed (scripts/setup)")
	}
	img, err := os.ReadFile(testenv.Face(t, "bona.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := biometrics.NewAssessor(testRec, biometrics.DefaultConfig()).AssessBytes(img)
	if err != nil {
		t.Fatal(err)
	}
	setLanguage("zh")
	t.Cleanup(func() { setLanguage("en") })
	var texts []string
	for _, m := range rep.Measures {
		texts = append(texts, measureValue(m))
	}
	if bad := untranslated(texts); len(bad) > 0 {
		t.Errorf("measure values with English on a Chinese screen: %q", bad)
	}
}
