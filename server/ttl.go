package server

// ttlHeap is a min-heap on expiry of the shard's live keys that have a TTL,
// one item per key: each entry records its position (hpos), so an
// overwrite moves the key's item in place and an overwrite without TTL or a
// delete removes it. The heap is therefore bounded by the live keys, not by
// the writes (pushing an item per write left one stale item per overwrite:
// 20,000 refreshes of one key made 20,000 items). It is hand-rolled rather
// than built on container/heap so updates do not box items into interfaces.
// Guarded by the shard's mutex.
type ttlHeap []*entry

// set puts e in the heap at e.expires, or moves it there if it is in
// already.
func (h *ttlHeap) set(e *entry) {
	if e.hpos == 0 {
		*h = append(*h, e)
		e.hpos = len(*h)
		h.up(len(*h) - 1)
		return
	}
	if i := e.hpos - 1; !h.up(i) {
		h.down(i)
	}
}

// remove takes e out of the heap, if it is in.
func (h *ttlHeap) remove(e *entry) {
	if e.hpos == 0 {
		return
	}
	i, last := e.hpos-1, len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	s := *h
	s[last] = nil // drop the reference
	*h = s[:last]
	e.hpos = 0
	if i != last {
		if !h.up(i) {
			h.down(i)
		}
	}
	if cap(*h) > 64 && len(*h) < cap(*h)/4 {
		// Give memory back after a burst of expiring keys.
		*h = append(ttlHeap(nil), *h...)
	}
}

// peek returns the entry expiring first, or nil.
func (h ttlHeap) peek() *entry {
	if len(h) == 0 {
		return nil
	}
	return h[0]
}

func (h ttlHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hpos, h[j].hpos = i+1, j+1
}

// up moves item i towards the root while it expires before its parent and
// reports whether it moved.
func (h ttlHeap) up(i int) bool {
	moved := false
	for i > 0 {
		p := (i - 1) / 2
		if h[p].expires <= h[i].expires {
			break
		}
		h.swap(p, i)
		i, moved = p, true
	}
	return moved
}

func (h ttlHeap) down(i int) {
	n := len(h)
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && h[l].expires < h[m].expires {
			m = l
		}
		if r < n && h[r].expires < h[m].expires {
			m = r
		}
		if m == i {
			return
		}
		h.swap(i, m)
		i = m
	}
}
