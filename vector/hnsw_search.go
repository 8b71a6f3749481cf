package vector

// searchScratch holds the per-search working memory (visited marks, heaps,
// buffers). Instances are recycled through hnswIndex.scratch so a query
// allocates only its result slice.
type searchScratch struct {
	visited visitedSet
	cand    candHeap    // frontier, closest first
	res     candHeap    // best ef so far, worst on top
	buf     []uint32    // neighbour list copy (parallel build only)
	fresh   []uint32    // unvisited neighbours of the node being expanded
	sorted  []candidate // res drained in ascending order
	sel     []candidate // selected neighbours
	tmp     []candidate // pruning workspace
	keep    []candidate // pruning output
}

// greedy walks layer from cur to a local minimum (the paper's search with
// ef=1, used on the upper layers).
func (g *graph) greedy(s *searchScratch, q []float32, qInv float32, cur candidate, layer int, conc bool) candidate {
	for changed := true; changed; {
		changed = false
		nb := g.neighbours(cur.node, layer, conc, s.buf)
		if conc {
			s.buf = nb
		}
		for _, n := range nb {
			if d := g.distTo(q, qInv, n); d < cur.dist {
				cur = candidate{dist: d, node: n}
				changed = true
			}
		}
	}
	return cur
}

// searchLayer is Algorithm 2 (SEARCH-LAYER): best-first expansion from ep
// keeping the ef closest nodes found in s.res. With skipDeleted,
// tombstoned nodes are still expanded (they keep the graph connected) but
// never enter s.res, so ef counts only returnable results.
func (g *graph) searchLayer(s *searchScratch, q []float32, qInv float32, ep candidate, ef, layer int, conc, skipDeleted bool) {
	s.visited.reset(g.nodes())
	s.cand.reset(false)
	s.res.reset(true)
	s.visited.visit(ep.node)
	s.cand.push(ep)
	if !skipDeleted || !g.isDeleted(ep.node) {
		s.res.push(ep)
	}
	for s.cand.len() > 0 {
		c := s.cand.pop()
		if s.res.len() >= ef && c.dist > s.res.top().dist {
			break // every remaining candidate is farther than our worst result
		}
		if s.cand.len() > 0 && !conc {
			// The next node to expand is (usually) the current frontier
			// minimum: start loading its neighbour block now.
			prefetchLinks(g.block(s.cand.top().node, layer))
		}
		nb := g.neighbours(c.node, layer, conc, s.buf)
		if conc {
			s.buf = nb
		}
		// Two passes: first mark and prefetch every unvisited neighbour so
		// their cache misses overlap, then compute distances. Measured on
		// 100k x 128: ~25% faster queries than computing as we go.
		fresh := s.fresh[:0]
		for _, n := range nb {
			if !s.visited.visit(n) {
				fresh = append(fresh, n)
				prefetch(g.vec(n))
			}
		}
		s.fresh = fresh
		for _, n := range fresh {
			d := g.distTo(q, qInv, n)
			if s.res.len() < ef || d < s.res.top().dist {
				s.cand.push(candidate{dist: d, node: n})
				if !skipDeleted || !g.isDeleted(n) {
					s.res.push(candidate{dist: d, node: n})
					if s.res.len() > ef {
						s.res.pop()
					}
				}
			}
		}
	}
}

// drainSorted moves s.res into s.sorted in ascending distance order.
func (s *searchScratch) drainSorted() []candidate {
	n := s.res.len()
	s.sorted = append(s.sorted[:0], make([]candidate, n)...)
	for i := n - 1; i >= 0; i-- {
		s.sorted[i] = s.res.pop()
	}
	return s.sorted
}
