package biometrics

import (
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// Match is one 1:N search result.
type Match struct {
	ID       string  `json:"id"`
	Distance float64 `json:"distance"`
	Score    float64 `json:"score"`
	Match    bool    `json:"match"` // distance within the threshold
}

// Gallery holds the templates of a station for 1:N search. The descriptors are kept in
// one flat float32 slice for a cache-friendly scan. Safe for concurrent use.
type Gallery struct {
	mu    sync.RWMutex
	ids   []string
	vecs  []float32
	index map[string]int
}

// NewGallery returns an empty gallery.
func NewGallery() *Gallery { return &Gallery{index: make(map[string]int)} }

// Add stores (or replaces) the template under id. Templates of another model are refused.
func (g *Gallery) Add(id string, t Template) error {
	if t.ModelID != ModelID {
		return fmt.Errorf("%w: %q in gallery of %q", ErrTemplateModel, t.ModelID, ModelID)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if i, ok := g.index[id]; ok {
		copy(g.vecs[i*128:], t.Descriptor[:])
		return nil
	}
	g.index[id] = len(g.ids)
	g.ids = append(g.ids, id)
	g.vecs = append(g.vecs, t.Descriptor[:]...)
	return nil
}

// Remove deletes id; it reports whether it was there.
func (g *Gallery) Remove(id string) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	i, ok := g.index[id]
	if !ok {
		return false
	}
	last := len(g.ids) - 1
	g.ids[i] = g.ids[last]
	copy(g.vecs[i*128:(i+1)*128], g.vecs[last*128:])
	g.index[g.ids[i]] = i
	g.ids = g.ids[:last]
	g.vecs = g.vecs[:last*128]
	delete(g.index, id)
	return true
}

// Len is the number of templates.
func (g *Gallery) Len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.ids)
}

type cand struct {
	i int
	d float32 // squared distance
}

// Search returns the k nearest templates to q, nearest first, scored at threshold (≤ 0:
// DefaultThreshold).
func (g *Gallery) Search(q Template, k int, threshold float64) ([]Match, error) {
	if q.ModelID != ModelID {
		return nil, fmt.Errorf("%w: query %q, gallery %q", ErrTemplateModel, q.ModelID, ModelID)
	}
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	if k <= 0 {
		return nil, nil
	}
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := len(g.ids)
	parts := runtime.GOMAXPROCS(0)
	if n < 4096 {
		parts = 1
	}
	results := make([][]cand, parts)
	var wg sync.WaitGroup
	for p := 0; p < parts; p++ {
		lo, hi := n*p/parts, n*(p+1)/parts
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			results[p] = scan(g.vecs, &q.Descriptor, lo, hi, k)
		}(p)
	}
	wg.Wait()
	var all []cand
	for _, r := range results {
		all = append(all, r...)
	}
	sort.Slice(all, func(a, b int) bool { return all[a].d < all[b].d })
	if len(all) > k {
		all = all[:k]
	}
	out := make([]Match, len(all))
	for i, c := range all {
		d := sqrt32(c.d)
		out[i] = Match{ID: g.ids[c.i], Distance: round(d, 4), Score: Similarity(d, threshold), Match: d <= threshold}
	}
	return out, nil
}

// scan keeps the k nearest of vecs[lo:hi] in a sorted slice. A candidate's partial sum
// is abandoned as soon as it exceeds the current k-th best (most of the gallery is far).
func scan(vecs []float32, q *Descriptor, lo, hi, k int) []cand {
	best := make([]cand, 0, k+1)
	worst := float32(3.4e38)
	for i := lo; i < hi; i++ {
		v := (*[128]float32)(vecs[i*128 : i*128+128])
		var s float32
		for j := 0; j < 128; j += 32 {
			var s0, s1, s2, s3 float32
			for l := j; l < j+32; l += 4 {
				x0, x1, x2, x3 := v[l]-q[l], v[l+1]-q[l+1], v[l+2]-q[l+2], v[l+3]-q[l+3]
				s0 += x0 * x0
				s1 += x1 * x1
				s2 += x2 * x2
				s3 += x3 * x3
			}
			s += (s0 + s1) + (s2 + s3)
			if s > worst {
				break
			}
		}
		if s > worst {
			continue
		}
		at := sort.Search(len(best), func(x int) bool { return best[x].d > s })
		best = append(best, cand{})
		copy(best[at+1:], best[at:])
		best[at] = cand{i, s}
		if len(best) > k {
			best = best[:k]
		}
		if len(best) == k {
			worst = best[k-1].d
		}
	}
	return best
}
