package vector

import (
	"fmt"
	"math"
	"slices"
	"sync"
)

// bruteForceIndex is the exact index: a linear scan over one contiguous
// slab. Keeping every vector in a single []float32 makes the scan a pure
// sequential stream that the hardware prefetcher keeps at memory bandwidth;
// deletes swap the last vector into the hole so the slab stays dense.
type bruteForceIndex struct {
	cfg Config
	dim int

	mu   sync.RWMutex
	data []float32        // len(ids)*dim floats; row i belongs to ids[i]
	inv  []float32        // Cosine only: 1/||row i|| (0 for zero rows)
	ids  []string         // row -> id
	pos  map[string]int32 // id -> row
}

func newBruteForce(cfg Config) *bruteForceIndex {
	return &bruteForceIndex{cfg: cfg, dim: cfg.Dimensions, pos: make(map[string]int32)}
}

func (b *bruteForceIndex) Config() Config { return b.cfg }

func (b *bruteForceIndex) Insert(id string, v []float32) error {
	if err := checkID("id", id); err != nil {
		return err
	}
	if err := checkVector("vector", v, b.dim); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkCapacity(1); err != nil {
		return err
	}
	b.insertLocked(id, v)
	return nil
}

func (b *bruteForceIndex) InsertBatch(ids []string, vectors [][]float32) error {
	if err := checkBatch(ids, vectors, b.dim); err != nil {
		return err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.checkCapacity(len(ids)); err != nil {
		return err
	}
	b.data = slices.Grow(b.data, len(ids)*b.dim)
	for i, id := range ids {
		b.insertLocked(id, vectors[i])
	}
	return nil
}

// checkCapacity keeps row numbers within int32 (the pos map's value type).
func (b *bruteForceIndex) checkCapacity(n int) error {
	if len(b.ids)+n > math.MaxInt32 {
		return fmt.Errorf("%w: brute-force index holds %d vectors; adding %d exceeds the limit of %d",
			ErrCapacity, len(b.ids), n, math.MaxInt32)
	}
	return nil
}

func (b *bruteForceIndex) insertLocked(id string, v []float32) {
	if r, ok := b.pos[id]; ok {
		copy(b.row(int(r)), v)
		if b.inv != nil {
			b.inv[r] = invNorm(v)
		}
		return
	}
	b.pos[id] = int32(len(b.ids))
	b.ids = append(b.ids, id)
	b.data = append(b.data, v...)
	if b.cfg.Distance == Cosine {
		b.inv = append(b.inv, invNorm(v))
	}
}

func (b *bruteForceIndex) row(r int) []float32 {
	return b.data[r*b.dim : (r+1)*b.dim : (r+1)*b.dim]
}

func (b *bruteForceIndex) Delete(id string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	r, ok := b.pos[id]
	if !ok {
		return false
	}
	last := len(b.ids) - 1
	if int(r) != last {
		copy(b.row(int(r)), b.row(last))
		b.ids[r] = b.ids[last]
		b.pos[b.ids[r]] = r
		if b.inv != nil {
			b.inv[r] = b.inv[last]
		}
	}
	b.ids[last] = "" // drop the reference so the string can be collected
	b.ids = b.ids[:last]
	b.data = b.data[:last*b.dim]
	if b.inv != nil {
		b.inv = b.inv[:last]
	}
	delete(b.pos, id)
	return true
}

func (b *bruteForceIndex) Get(id string) ([]float32, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	r, ok := b.pos[id]
	if !ok {
		return nil, false
	}
	return slices.Clone(b.row(int(r))), true
}

func (b *bruteForceIndex) Len() int {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return len(b.ids)
}

func (b *bruteForceIndex) MemoryBytes() int64 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := int64(cap(b.data))*4 + int64(cap(b.inv))*4 + int64(cap(b.ids))*16
	for _, id := range b.ids {
		n += int64(len(id))
	}
	// Go swiss-table maps: ~8-byte ctrl+slot overhead beyond the 16-byte
	// key and 4-byte value, at <= 7/8 load.
	n += int64(len(b.pos)) * 32
	return n
}

// Search scans every row. The only allocations are the k-sized heap and
// the result slice.
func (b *bruteForceIndex) Search(query []float32, k int, includeVectors bool) ([]Match, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	if err := checkVector("query", query, b.dim); err != nil {
		return nil, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	n := len(b.ids)
	k = min(k, n)
	if k == 0 {
		return []Match{}, nil
	}
	h := idHeap{ids: b.ids, c: make([]candidate, 0, k)}
	var qInv float32
	if b.cfg.Distance == Cosine {
		qInv = invNorm(query)
	}
	// Score rows in blocks with the row-batch kernels, then post-process
	// the block (metric transform + top-k). The block buffer lives on the
	// stack, so the scan itself allocates nothing.
	const block = 256
	var buf [block]float32
	dim := b.dim
	for start := 0; start < n; start += block {
		cnt := min(block, n-start)
		out := buf[:cnt]
		rows := b.data[start*dim : (start+cnt)*dim]
		switch b.cfg.Distance {
		case Euclidean:
			l2sqRows(query, rows, out)
			for j, x := range out {
				out[j] = float32(math.Sqrt(float64(x)))
			}
		case Cosine:
			dotRows(query, rows, out)
			inv := b.inv[start : start+cnt]
			for j, x := range out {
				out[j] = cosineFromDot(x, qInv, inv[j])
			}
		default:
			dotRows(query, rows, out)
			for j, x := range out {
				out[j] = -x
			}
		}
		for j, d := range out {
			if len(h.c) < k {
				h.push(candidate{dist: d, node: uint32(start + j)})
			} else if d <= h.c[0].dist {
				if c := (candidate{dist: d, node: uint32(start + j)}); h.worse(h.c[0], c) {
					h.replaceTop(c)
				}
			}
		}
	}
	out := make([]Match, len(h.c))
	for i := len(out) - 1; i >= 0; i-- {
		c := h.pop()
		out[i] = Match{ID: b.ids[c.node], Distance: c.dist}
		if includeVectors {
			out[i].Vector = slices.Clone(b.row(int(c.node)))
		}
	}
	return out, nil
}

// idHeap is a bounded max-heap (worst on top) ordered by distance, then by
// id string, so the brute-force scan applies the public tie-break rule
// exactly even at the k-th boundary.
type idHeap struct {
	ids []string
	c   []candidate
}

// worse reports whether a ranks after b.
func (h *idHeap) worse(a, b candidate) bool {
	if a.dist != b.dist {
		return a.dist > b.dist
	}
	return h.ids[a.node] > h.ids[b.node]
}

func (h *idHeap) push(x candidate) {
	h.c = append(h.c, x)
	i := len(h.c) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.worse(h.c[i], h.c[p]) {
			break
		}
		h.c[i], h.c[p] = h.c[p], h.c[i]
		i = p
	}
}

func (h *idHeap) pop() candidate {
	top := h.c[0]
	n := len(h.c) - 1
	h.c[0] = h.c[n]
	h.c = h.c[:n]
	h.down()
	return top
}

func (h *idHeap) replaceTop(x candidate) {
	h.c[0] = x
	h.down()
}

func (h *idHeap) down() {
	s, n, i := h.c, len(h.c), 0
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h.worse(s[r], s[l]) {
			m = r
		}
		if !h.worse(s[m], s[i]) {
			return
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
}
