package vector

import (
	"slices"
	"sync"
	"sync/atomic"
)

// link inserts an already-added node into the graph (Algorithm 1, INSERT).
// With conc set it may run in parallel with other link calls on the same
// graph (but never with searches or node additions): neighbour blocks are
// then read and written under stripe locks, and the entry point under epMu.
func (g *graph) link(s *searchScratch, node uint32, conc bool) {
	level := int(g.levels[node])
	q, qInv := g.vec(node), g.invOf(node)

	if conc {
		g.epMu.Lock()
	}
	ep, top := g.entry, g.maxLevel
	if top < 0 {
		g.entry, g.maxLevel = node, level
	}
	if conc {
		g.epMu.Unlock()
	}
	if top < 0 {
		return // first node: nothing to connect to
	}

	cur := candidate{dist: g.distTo(q, qInv, ep), node: ep}
	for l := top; l > level; l-- {
		cur = g.greedy(s, q, qInv, cur, l, conc)
	}
	for l := min(level, top); l >= 0; l-- {
		g.searchLayer(s, q, qInv, cur, g.efC, l, conc, false)
		found := s.drainSorted()
		// In a parallel build another builder may already have linked to
		// node and led this search back to it; never self-link.
		found = slices.DeleteFunc(found, func(c candidate) bool { return c.node == node })
		if len(found) == 0 {
			continue
		}
		cur = found[0]
		s.sel = g.selectNeighbours(found, g.m, s.sel)
		sel := s.sel
		g.connect(s, node, l, sel, conc)
		for _, e := range sel {
			g.connect(s, e.node, l, []candidate{{dist: e.dist, node: node}}, conc)
		}
	}

	if level > top {
		if conc {
			g.epMu.Lock()
		}
		if level > g.maxLevel {
			g.entry, g.maxLevel = node, level
		}
		if conc {
			g.epMu.Unlock()
		}
	}
}

// selectNeighbours is Algorithm 4 (SELECT-NEIGHBORS-HEURISTIC) without
// candidate extension or keeping pruned connections, as in hnswlib. cands
// must be sorted by distance to the base element. A candidate is kept only
// if it is closer to the base than to every neighbour already kept, which
// spreads links across directions and keeps clusters connected.
func (g *graph) selectNeighbours(cands []candidate, m int, out []candidate) []candidate {
	out = out[:0]
	if len(cands) <= m {
		return append(out, cands...)
	}
	for _, c := range cands {
		if len(out) >= m {
			break
		}
		cv, cInv := g.vec(c.node), g.invOf(c.node)
		good := true
		for _, r := range out {
			if g.distTo(cv, cInv, r.node) < c.dist {
				good = false
				break
			}
		}
		if good {
			out = append(out, c)
		}
	}
	return out
}

// connect adds links owner -> add[i].node on layer (add[i].dist is the
// distance to owner). When the block overflows, the union of old and new
// neighbours is pruned back to capacity with the heuristic.
func (g *graph) connect(s *searchScratch, owner uint32, layer int, add []candidate, conc bool) {
	limit := g.m
	if layer == 0 {
		limit = g.m0
	}
	if conc {
		mu := &g.stripes[owner%numStripes]
		mu.Lock()
		defer mu.Unlock()
	}
	b := g.block(owner, layer)
	cnt := int(b[0])
	var overflow []candidate
	for i, a := range add {
		if a.node == owner || slices.Contains(b[1:1+cnt], a.node) {
			continue
		}
		if cnt < limit {
			b[1+cnt] = a.node
			cnt++
			continue
		}
		overflow = add[i:]
		break
	}
	if overflow == nil {
		b[0] = uint32(cnt)
		return
	}
	// Prune: rank everything by distance to owner and reselect.
	ov, oInv := g.vec(owner), g.invOf(owner)
	all := s.tmp[:0]
	for _, n := range b[1 : 1+cnt] {
		all = append(all, candidate{dist: g.distTo(ov, oInv, n), node: n})
	}
	for _, a := range overflow {
		if a.node != owner && !slices.Contains(b[1:1+cnt], a.node) {
			all = append(all, a)
		}
	}
	slices.SortFunc(all, func(x, y candidate) int {
		if x.less(y) {
			return -1
		}
		if y.less(x) {
			return 1
		}
		return 0
	})
	// selectNeighbours writes into a separate buffer, then copy back.
	s.keep = g.selectNeighbours(all, limit, s.keep)
	keep := s.keep
	for i, c := range keep {
		b[1+i] = c.node
	}
	b[0] = uint32(len(keep))
	s.tmp = all
}

// linkParallel links nodes using up to workers goroutines. The caller holds
// the index write lock and has already added (and sized the slabs for)
// every node, so only neighbour blocks and the entry point change.
func (g *graph) linkParallel(nodes []uint32, workers int, pool *sync.Pool) {
	if len(nodes) == 0 {
		return
	}
	if workers <= 1 || len(nodes) < 256 {
		s := pool.Get().(*searchScratch) //nolint:errcheck // the pool makes only *searchScratch
		for _, n := range nodes {
			g.link(s, n, false)
		}
		pool.Put(s)
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			s := pool.Get().(*searchScratch) //nolint:errcheck // the pool makes only *searchScratch
			defer pool.Put(s)
			for {
				i := next.Add(1) - 1
				if i >= int64(len(nodes)) {
					return
				}
				g.link(s, nodes[i], true)
			}
		})
	}
	wg.Wait()
}
