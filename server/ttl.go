package server

import "container/heap"

// ttlHeap is a min-heap on expiry of the shard's live keys that have a TTL,
// one item per key: each entry records its position (hpos, 1-based; 0 when
// out), so an overwrite moves the key's item in place and an overwrite
// without TTL or a delete removes it. The heap is therefore bounded by the
// live keys, not by the writes (pushing an item per write left one stale
// item per overwrite: 20,000 refreshes of one key made 20,000 items).
//
// It is container/heap over *entry: pointers go into an interface without
// allocating, so the standard heap costs nothing here. Guarded by the
// shard's mutex.
type ttlHeap []*entry

// set puts e in the heap at e.expires, or moves it there if it is in
// already.
func (h *ttlHeap) set(e *entry) {
	if e.hpos == 0 {
		heap.Push(h, e)
		return
	}
	heap.Fix(h, e.hpos-1)
}

// remove takes e out of the heap, if it is in.
func (h *ttlHeap) remove(e *entry) {
	if e.hpos == 0 {
		return
	}
	heap.Remove(h, e.hpos-1)
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

// heap.Interface; only container/heap calls these.

func (h ttlHeap) Len() int           { return len(h) }
func (h ttlHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h ttlHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].hpos, h[j].hpos = i+1, j+1
}

func (h *ttlHeap) Push(x any) {
	e := x.(*entry) //nolint:errcheck // container/heap hands back what Push was given: *entry
	*h = append(*h, e)
	e.hpos = len(*h)
}

func (h *ttlHeap) Pop() any {
	s := *h
	e := s[len(s)-1]
	s[len(s)-1] = nil // drop the reference
	*h = s[:len(s)-1]
	e.hpos = 0
	return e
}
