package vector

// visitedSet marks nodes seen during one graph search. Instead of a map or
// clearing a bitmap per query, each slot stores the epoch of the search that
// last visited it; starting a new search just increments the epoch, and the
// array is cleared only when the 16-bit epoch wraps. Sets are recycled via
// a sync.Pool inside searchScratch.
type visitedSet struct {
	marks []uint16
	epoch uint16
}

// reset prepares the set for a search over n nodes.
func (v *visitedSet) reset(n int) {
	if len(v.marks) < n {
		v.marks = make([]uint16, n+n/4)
		v.epoch = 0
	}
	v.epoch++
	if v.epoch == 0 {
		clear(v.marks)
		v.epoch = 1
	}
}

// visit marks node and reports whether it was already marked.
func (v *visitedSet) visit(node uint32) bool {
	if v.marks[node] == v.epoch {
		return true
	}
	v.marks[node] = v.epoch
	return false
}
