package vector

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
)

// numStripes is the number of neighbour-list locks used during parallel
// builds. Node i uses stripe i%numStripes: a lock per node would cost 8
// bytes per vector, while 1024 stripes make contention negligible with a
// handful of builder goroutines. A goroutine never holds two stripes at
// once, so striping cannot deadlock.
const numStripes = 1024

// maxLevel caps the random level; P(level >= 16) is 16^-16 at M=16, so the
// cap only guards against pathological configurations (M=2).
const maxLevelCap = 30

// graph is the storage of one HNSW graph. Everything is held in flat slabs
// indexed by node number (uint32): vectors, inverse norms, fixed-size
// neighbour blocks. A block is [count, n1, n2, ...] with room for m0 (layer
// 0) or m (upper layers) neighbours, so the graph costs 4*(2M+1) bytes per
// node on layer 0 with no per-node allocations or maps.
//
// Nodes are append-only; deletion sets a tombstone bit. The owning
// hnswIndex swaps in a freshly built graph to drop tombstones.
type graph struct {
	dim, m, m0, efC int
	metric          Distance
	levelMult       float64 // mL = 1/ln(M) from the paper

	vecs     []float32 // node i: vecs[i*dim:(i+1)*dim]
	inv      []float32 // Cosine only: 1/||v|| per node
	links0   []uint32  // layer 0 blocks, stride m0+1
	levels   []uint8   // top layer per node
	upperOff []uint32  // start of node's layer-1 block in upper (if level > 0)
	upper    []uint32  // upper-layer blocks, stride m+1, layers 1..level consecutive
	deleted  []uint64  // tombstone bitset
	nDeleted int
	ids      idTable

	entry    uint32
	maxLevel int // -1 while the graph is empty

	// epMu guards entry/maxLevel and stripes guard neighbour blocks while
	// a parallel batch build runs; single-writer paths skip them.
	epMu    sync.Mutex
	stripes [numStripes]sync.Mutex
}

func newGraph(cfg Config) *graph {
	m := cfg.HNSW.M
	return &graph{
		dim:       cfg.Dimensions,
		m:         m,
		m0:        2 * m,
		efC:       max(cfg.HNSW.EfConstruction, m),
		metric:    cfg.Distance,
		levelMult: 1 / math.Log(float64(m)),
		ids:       newIDTable(),
		maxLevel:  -1,
	}
}

func (g *graph) nodes() int { return len(g.levels) }

func (g *graph) live() int { return len(g.levels) - g.nDeleted }

func (g *graph) vec(n uint32) []float32 {
	o := int(n) * g.dim
	return g.vecs[o : o+g.dim : o+g.dim]
}

func (g *graph) invOf(n uint32) float32 {
	if g.inv == nil {
		return 0
	}
	return g.inv[n]
}

func (g *graph) isDeleted(n uint32) bool { return g.deleted[n>>6]&(1<<(n&63)) != 0 }

func (g *graph) markDeleted(n uint32) {
	g.deleted[n>>6] |= 1 << (n & 63)
	g.nDeleted++
}

// distTo is the metric between a query and node n.
func (g *graph) distTo(q []float32, qInv float32, n uint32) float32 {
	x := g.vec(n)
	switch g.metric {
	case Euclidean:
		return l2(q, x)
	case Cosine:
		return cosineFromDot(dot(q, x), qInv, g.inv[n])
	default:
		return -dot(q, x)
	}
}

// block returns node n's neighbour block on layer: [count, ids...].
func (g *graph) block(n uint32, layer int) []uint32 {
	if layer == 0 {
		s := int(n) * (g.m0 + 1)
		return g.links0[s : s+g.m0+1 : s+g.m0+1]
	}
	s := int(g.upperOff[n]) + (layer-1)*(g.m+1)
	return g.upper[s : s+g.m+1 : s+g.m+1]
}

// neighbours returns n's neighbours on layer. When conc is set (parallel
// build) the list is copied into buf under the node's stripe lock, because
// other builders may be rewriting it.
func (g *graph) neighbours(n uint32, layer int, conc bool, buf []uint32) []uint32 {
	b := g.block(n, layer)
	if !conc {
		return b[1 : 1+b[0]]
	}
	mu := &g.stripes[n%numStripes]
	mu.Lock()
	buf = append(buf[:0], b[1:1+b[0]]...)
	mu.Unlock()
	return buf
}

// randomLevel draws floor(-ln(U) * mL), the paper's exponentially decaying
// level distribution.
func (g *graph) randomLevel(rng *rand.Rand) int {
	u := 1 - rng.Float64() // (0, 1]
	return min(int(-math.Log(u)*g.levelMult), maxLevelCap)
}

// reserve grows every slab to hold extra more nodes exactly, so bulk loads
// do not pay append's over-allocation (which would break the bytes/vector
// budget) and parallel builders never see a slab move.
func (g *graph) reserve(extra, extraIDBytes int) {
	n := g.nodes() + extra
	g.vecs = slices.Grow(g.vecs, n*g.dim-len(g.vecs))
	if g.metric == Cosine {
		g.inv = slices.Grow(g.inv, n-len(g.inv))
	}
	g.links0 = slices.Grow(g.links0, n*(g.m0+1)-len(g.links0))
	g.levels = slices.Grow(g.levels, extra)
	g.upperOff = slices.Grow(g.upperOff, extra)
	g.ids.reserve(extra, extraIDBytes)
}

// addNode appends a node with the given vector and level; it is not yet
// linked into the graph. It returns the node number.
func (g *graph) addNode(id string, v []float32, level int) uint32 {
	n := uint32(g.nodes())
	g.vecs = append(g.vecs, v...)
	if g.metric == Cosine {
		g.inv = append(g.inv, invNorm(v))
	}
	g.links0 = append(g.links0, make([]uint32, g.m0+1)...)
	g.levels = append(g.levels, uint8(level))
	off := 0
	if level > 0 {
		off = len(g.upper)
		g.upper = append(g.upper, make([]uint32, level*(g.m+1))...)
	}
	g.upperOff = append(g.upperOff, uint32(off))
	if int(n)/64 >= len(g.deleted) {
		g.deleted = append(g.deleted, 0)
	}
	g.ids.appendNode(id)
	g.ids.set(id, n)
	return n
}

// checkCapacity reports ErrCapacity if n more nodes with idBytes more id
// bytes would overflow the uint32 node numbers or arena offsets.
func (g *graph) checkCapacity(n, idBytes int) error {
	if g.nodes()+n >= math.MaxUint32-1 || len(g.ids.arena)+idBytes > math.MaxUint32 {
		return fmt.Errorf("%w: HNSW holds %d nodes and %d id bytes; adding %d nodes (%d id bytes) exceeds the 2^32 limit",
			ErrCapacity, g.nodes(), len(g.ids.arena), n, idBytes)
	}
	return nil
}

// lookupLive returns the live node for id.
func (g *graph) lookupLive(id string) (uint32, bool) {
	n, ok := g.ids.lookup(id)
	if !ok || g.isDeleted(n) {
		return 0, false
	}
	return n, true
}

func (g *graph) memoryBytes() int64 {
	return int64(cap(g.vecs))*4 + int64(cap(g.inv))*4 + int64(cap(g.links0))*4 +
		int64(cap(g.levels)) + int64(cap(g.upperOff))*4 + int64(cap(g.upper))*4 +
		int64(cap(g.deleted))*8 + g.ids.memoryBytes() + numStripes*8
}
