package vector

import (
	"bytes"
	"cmp"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
)

// Tunable is implemented by approximate indexes (HNSW) whose per-query
// effort can be chosen per call, e.g. to trade recall for latency.
type Tunable interface {
	Index
	// SearchEf is Search with the candidate-list size ef instead of
	// Config().HNSW.EfSearch (ef is raised to k; 1..MaxEf).
	SearchEf(query []float32, k, ef int, includeVectors bool) ([]Match, error)
}

// compactMinNodes: below this many nodes tombstones are never compacted,
// since a rebuild would cost more than scanning a few dead nodes.
const compactMinNodes = 64

// hnswIndex is the approximate index. All graph state lives in g; a
// compaction builds a new graph from the live vectors and swaps it in.
type hnswIndex struct {
	cfg Config

	mu  sync.RWMutex // searches share, writes exclude
	g   *graph
	rng *rand.Rand // level generator; used only under mu (write)

	scratch sync.Pool // *searchScratch
}

var _ Tunable = (*hnswIndex)(nil)

func newHNSW(cfg Config) *hnswIndex {
	seed := uint64(cfg.HNSW.Seed)
	h := &hnswIndex{
		cfg: cfg,
		g:   newGraph(cfg),
		rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
	h.scratch.New = func() any { return new(searchScratch) }
	return h
}

func (h *hnswIndex) Config() Config { return h.cfg }

func (h *hnswIndex) Insert(id string, v []float32) error {
	if err := checkID("id", id); err != nil {
		return err
	}
	if err := checkVector("vector", v, h.cfg.Dimensions); err != nil {
		return err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.g
	if err := g.checkCapacity(1, len(id)); err != nil {
		return err
	}
	if old, ok := g.lookupLive(id); ok {
		if slices.Equal(g.vec(old), v) {
			return nil // unchanged: avoid creating a tombstone
		}
		g.markDeleted(old)
	}
	n := g.addNode(id, v, g.randomLevel(h.rng))
	s := h.scratch.Get().(*searchScratch) //nolint:errcheck // the pool makes only *searchScratch
	g.link(s, n, false)
	h.scratch.Put(s)
	h.maybeCompact()
	return nil
}

// batchChunk is how many nodes InsertBatch links per write-lock hold.
// Releasing the lock between chunks lets searches interleave with a bulk
// load instead of stalling for the whole build (~0.3 s per chunk at
// 128 dims), while chunks stay large enough to keep every builder busy.
const batchChunk = 2048

// InsertBatch validates everything first, then inserts in chunks of
// batchChunk under the write lock, linking each chunk with GOMAXPROCS
// goroutines. Concurrent searches may observe a prefix of the batch.
func (h *hnswIndex) InsertBatch(ids []string, vectors [][]float32) error {
	if err := checkBatch(ids, vectors, h.cfg.Dimensions); err != nil {
		return err
	}
	order := lastOccurrences(ids)
	idBytes := 0
	for _, i := range order {
		idBytes += len(ids[i])
	}
	for start := 0; start < len(order); start += batchChunk {
		part := order[start:min(start+batchChunk, len(order))]
		h.mu.Lock()
		if start == 0 {
			if err := h.g.checkCapacity(len(order), idBytes); err != nil {
				h.mu.Unlock()
				return err
			}
			// Size the slabs for the whole batch once: exact capacity keeps
			// MemoryBytes honest and avoids re-copying per chunk.
			h.g.reserve(len(order), idBytes)
		}
		h.insertLocked(ids, vectors, part)
		h.maybeCompact()
		h.mu.Unlock()
	}
	return nil
}

// lastOccurrences returns, in order, the indices of ids that are the last
// occurrence of their id, so later duplicates win.
func lastOccurrences(ids []string) []int {
	last := make(map[string]int, len(ids))
	for i, id := range ids {
		last[id] = i
	}
	order := make([]int, 0, len(last))
	for i, id := range ids {
		if last[id] == i {
			order = append(order, i)
		}
	}
	return order
}

// insertLocked adds ids[i] -> vectors[i] for i in which (ids unique within
// which): nodes are added serially (copies and level draws are cheap), then
// linked in parallel. The caller holds the write lock.
func (h *hnswIndex) insertLocked(ids []string, vectors [][]float32, which []int) {
	g := h.g
	nodes := make([]uint32, 0, len(which))
	for _, i := range which {
		if old, ok := g.lookupLive(ids[i]); ok {
			g.markDeleted(old)
		}
		nodes = append(nodes, g.addNode(ids[i], vectors[i], g.randomLevel(h.rng)))
	}
	g.linkParallel(nodes, runtime.GOMAXPROCS(0), &h.scratch)
}

// maybeCompact rebuilds the graph from live vectors once tombstones
// outnumber live nodes. Amortised, each delete pays for at most one
// re-insertion, and search cost stays within ~2x of a clean graph.
func (h *hnswIndex) maybeCompact() {
	g := h.g
	if g.nodes() < compactMinNodes || g.nDeleted*2 <= g.nodes() {
		return
	}
	ids := make([]string, 0, g.live())
	vecs := make([][]float32, 0, g.live())
	for n := range uint32(g.nodes()) {
		if !g.isDeleted(n) {
			ids = append(ids, g.ids.idOf(n))
			vecs = append(vecs, g.vec(n))
		}
	}
	h.g = newGraph(h.cfg)
	idBytes := 0
	for _, id := range ids {
		idBytes += len(id)
	}
	h.g.reserve(len(ids), idBytes)
	all := make([]int, len(ids))
	for i := range all {
		all[i] = i
	}
	h.insertLocked(ids, vecs, all)
}

func (h *hnswIndex) Delete(id string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	n, ok := h.g.lookupLive(id)
	if !ok {
		return false
	}
	h.g.markDeleted(n)
	h.maybeCompact()
	return true
}

func (h *hnswIndex) Get(id string) ([]float32, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	n, ok := h.g.lookupLive(id)
	if !ok {
		return nil, false
	}
	return slices.Clone(h.g.vec(n)), true
}

func (h *hnswIndex) Len() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.g.live()
}

func (h *hnswIndex) MemoryBytes() int64 {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.g.memoryBytes()
}

func (h *hnswIndex) Search(query []float32, k int, includeVectors bool) ([]Match, error) {
	return h.SearchEf(query, k, h.cfg.HNSW.EfSearch, includeVectors)
}

func (h *hnswIndex) SearchEf(query []float32, k, ef int, includeVectors bool) ([]Match, error) {
	if err := checkK(k); err != nil {
		return nil, err
	}
	if ef < 1 || ef > MaxEf {
		return nil, invalid(ErrInvalidK, "ef", "is %d, must be in 1..%d", ef, MaxEf)
	}
	if err := checkVector("query", query, h.cfg.Dimensions); err != nil {
		return nil, err
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	g := h.g
	if g.maxLevel < 0 || g.live() == 0 {
		return []Match{}, nil
	}
	s := h.scratch.Get().(*searchScratch) //nolint:errcheck // the pool makes only *searchScratch
	defer h.scratch.Put(s)

	var qInv float32
	if g.metric == Cosine {
		qInv = invNorm(query)
	}
	cur := candidate{dist: g.distTo(query, qInv, g.entry), node: g.entry}
	for l := g.maxLevel; l > 0; l-- {
		cur = g.greedy(s, query, qInv, cur, l, false)
	}
	g.searchLayer(s, query, qInv, cur, max(ef, k), 0, false, true)
	found := s.drainSorted()
	// Apply the public tie-break (id ascending) among equal distances.
	slices.SortFunc(found, func(a, b candidate) int {
		if c := cmp.Compare(a.dist, b.dist); c != 0 {
			return c
		}
		return bytes.Compare(g.ids.bytesOf(a.node), g.ids.bytesOf(b.node))
	})
	found = found[:min(k, len(found))]
	out := make([]Match, len(found))
	for i, c := range found {
		out[i] = Match{ID: g.ids.idOf(c.node), Distance: c.dist}
		if includeVectors {
			out[i].Vector = slices.Clone(g.vec(c.node))
		}
	}
	return out, nil
}
