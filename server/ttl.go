package server

// ttlItem records that key, written at log index idx, expires at at (the
// cluster clock's nanoseconds). Overwrites leave stale items behind; the
// reaper recognises them because the key's current index differs.
type ttlItem struct {
	at  int64
	idx uint64
	key string
}

// ttlHeap is a min-heap on at. It is hand-rolled rather than built on
// container/heap so pushes do not box items into interfaces.
type ttlHeap []ttlItem

func (h *ttlHeap) push(it ttlItem) {
	*h = append(*h, it)
	s := *h
	i := len(s) - 1
	for i > 0 {
		p := (i - 1) / 2
		if s[p].at <= s[i].at {
			break
		}
		s[p], s[i] = s[i], s[p]
		i = p
	}
}

func (h *ttlHeap) peek() (ttlItem, bool) {
	if len(*h) == 0 {
		return ttlItem{}, false
	}
	return (*h)[0], true
}

func (h *ttlHeap) pop() ttlItem {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s[n] = ttlItem{} // drop the key reference
	s = s[:n]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].at < s[m].at {
			m = l
		}
		if r < n && s[r].at < s[m].at {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	if cap(s) > 64 && len(s) < cap(s)/4 {
		// Give memory back after a burst of expiring keys.
		s = append(ttlHeap(nil), s...)
	}
	*h = s
	return top
}
