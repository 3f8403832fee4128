package biometrics

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func randomTemplate(r *rand.Rand) Template {
	var d Descriptor
	for i := range d {
		d[i] = float32(r.NormFloat64() * 0.09)
	}
	return NewTemplate(d, 0)
}

func TestTemplateEncoding(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	tpl := randomTemplate(r)
	tpl.Jitter = 3
	b, err := tpl.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 6+len(ModelID)+512 {
		t.Fatalf("encoded length %d", len(b))
	}
	var back Template
	if err := back.UnmarshalBinary(b); err != nil {
		t.Fatal(err)
	}
	if back != tpl {
		t.Fatalf("round trip changed the template")
	}
	nan := append([]byte(nil), b...)
	copy(nan[len(nan)-4:], []byte{0, 0, 0xc0, 0x7f})
	newer := append([]byte(nil), b...)
	newer[3] = TemplateVersion + 1
	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrTemplateFormat},
		{"bad magic", append([]byte("XYZ"), b[3:]...), ErrTemplateFormat},
		{"truncated", b[:len(b)-1], ErrTemplateFormat},
		{"trailing byte", append(append([]byte(nil), b...), 0), ErrTemplateFormat},
		{"newer version", newer, ErrTemplateVersion},
		{"NaN", nan, ErrTemplateFormat},
	} {
		var x Template
		if err := x.UnmarshalBinary(tc.data); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

func FuzzTemplate(f *testing.F) {
	b, _ := randomTemplate(rand.New(rand.NewPCG(3, 4))).MarshalBinary()
	f.Add(b)
	f.Add([]byte("EFT\x01\x00\x01x"))
	f.Fuzz(func(t *testing.T, data []byte) {
		var tpl Template
		if err := tpl.UnmarshalBinary(data); err != nil {
			if !errors.Is(err, ErrTemplateFormat) && !errors.Is(err, ErrTemplateVersion) {
				t.Fatalf("untyped error %v", err)
			}
			return
		}
		again, err := tpl.MarshalBinary()
		if err != nil || string(again) != string(data) {
			t.Fatalf("decoded template does not re-encode to the same bytes")
		}
	})
}

func TestVerifyAndSimilarity(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	a := randomTemplate(r)
	c, err := Verify(a, a, 0)
	if err != nil || !c.Match || c.Distance != 0 || c.Score < 99 || c.Threshold != DefaultThreshold {
		t.Fatalf("self comparison: %+v, %v", c, err)
	}
	if s := Similarity(DefaultThreshold, DefaultThreshold); s != 50 {
		t.Errorf("score at the threshold is %v, want 50", s)
	}
	if Similarity(0.3, 0.4) <= Similarity(0.5, 0.4) {
		t.Error("similarity does not fall with distance")
	}
	other := a
	other.ModelID = "someone_elses_model"
	if _, err := Verify(a, other, 0); !errors.Is(err, ErrTemplateModel) {
		t.Errorf("cross-model verify: %v", err)
	}
}

func TestGallerySearch(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	g := NewGallery()
	tpls := make([]Template, 6000) // above the size where the scan is split
	for i := range tpls {
		tpls[i] = randomTemplate(r)
		if err := g.Add(fmt.Sprint("id", i), tpls[i]); err != nil {
			t.Fatal(err)
		}
	}
	q := randomTemplate(r)
	got, err := g.Search(q, 5, 0)
	if err != nil || len(got) != 5 {
		t.Fatalf("search: %v %v", got, err)
	}
	// Brute force agrees.
	type idd struct {
		id string
		d  float64
	}
	var all []idd
	for i, tp := range tpls {
		all = append(all, idd{fmt.Sprint("id", i), q.Descriptor.Distance(tp.Descriptor)})
	}
	sort.Slice(all, func(i, j int) bool { return all[i].d < all[j].d })
	for i := range got {
		if got[i].ID != all[i].id || math.Abs(got[i].Distance-all[i].d) > 1e-3 {
			t.Errorf("rank %d: %+v, brute force %+v", i, got[i], all[i])
		}
	}
	// A stored template finds itself first; after removal it is gone.
	got, _ = g.Search(tpls[42], 1, 0)
	if got[0].ID != "id42" || !got[0].Match || got[0].Distance != 0 {
		t.Errorf("self search: %+v", got[0])
	}
	if !g.Remove("id42") || g.Remove("id42") || g.Len() != len(tpls)-1 {
		t.Fatal("remove")
	}
	got, _ = g.Search(tpls[42], 1, 0)
	if got[0].ID == "id42" {
		t.Error("removed template still found")
	}
	// The template moved into the hole is still found under its own id.
	got, _ = g.Search(tpls[len(tpls)-1], 1, 0)
	if got[0].ID != fmt.Sprint("id", len(tpls)-1) || got[0].Distance != 0 {
		t.Errorf("moved template: %+v", got[0])
	}
	bad := q
	bad.ModelID = "other"
	if err := g.Add("x", bad); !errors.Is(err, ErrTemplateModel) {
		t.Errorf("add of another model: %v", err)
	}
}

func BenchmarkSearch100k(b *testing.B) {
	r := rand.New(rand.NewPCG(9, 10))
	g := NewGallery()
	for i := 0; i < 100_000; i++ {
		g.Add(fmt.Sprint(i), randomTemplate(r))
	}
	qs := make([]Template, 64)
	for i := range qs {
		qs[i] = randomTemplate(r)
	}
	b.ResetTimer()
	cpu0 := cpuTime()
	defer func() { reportCPU(b, cpu0) }()
	for i := 0; i < b.N; i++ {
		if _, err := g.Search(qs[i%len(qs)], 10, 0); err != nil {
			b.Fatal(err)
		}
	}
}
