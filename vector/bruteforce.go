package vector

import (
	"fmt"
	"math"
	"slices"
	"sync"

	"github.com/norikv/norikv-go/internal/heap"
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
	h := heap.Heap[candidate, worstByID]{Order: worstByID{b.ids}}
	h.Grow(k)
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
			if h.Len() < k {
				h.Push(candidate{dist: d, node: uint32(start + j)})
			} else if d <= h.Top().dist {
				if c := (candidate{dist: d, node: uint32(start + j)}); h.Order.Less(h.Top(), c) {
					h.ReplaceTop(c)
				}
			}
		}
	}
	out := make([]Match, h.Len())
	for i := len(out) - 1; i >= 0; i-- {
		c := h.Pop()
		out[i] = Match{ID: b.ids[c.node], Distance: c.dist}
		if includeVectors {
			out[i].Vector = slices.Clone(b.row(int(c.node)))
		}
	}
	return out, nil
}

// worstByID is the brute-force result order: worst on top, by distance,
// then by id string, so the scan applies the public tie-break rule
// exactly even at the k-th boundary.
type worstByID struct{ ids []string }

func (o worstByID) Less(a, b candidate) bool {
	if a.dist != b.dist {
		return a.dist > b.dist
	}
	return o.ids[a.node] > o.ids[b.node]
}
