package vector

import (
	"hash/maphash"
	"unsafe"
)

// idTable maps string ids to HNSW node numbers and back without a Go map
// or a string header per node. A map[string]uint32 plus a []string costs
// ~60 bytes per id at 100k entries; here each id costs its bytes in one
// arena, a 4-byte offset and ~5-8 bytes of open-addressing slots, which is
// what keeps HNSW under 700 bytes per 128-dim vector.
//
// Nodes are append-only (HNSW deletes are tombstones), so a node's id bytes
// never move logically; the table is rebuilt together with the graph.
type idTable struct {
	arena []byte   // all ids concatenated in node order
	offs  []uint32 // node i's id is arena[offs[i]:offs[i+1]]; len = nodes+1
	slots []uint32 // open addressing, linear probing; 0 = empty, else node+1
	used  int      // occupied slots (distinct ids ever set)
	seed  maphash.Seed
}

func newIDTable() idTable {
	return idTable{offs: []uint32{0}, seed: maphash.MakeSeed()}
}

// bytesOf returns node's id without allocating. The slice aliases the
// arena and must not be retained across appends.
func (t *idTable) bytesOf(node uint32) []byte {
	return t.arena[t.offs[node]:t.offs[node+1]]
}

// idOf returns node's id as a fresh string.
func (t *idTable) idOf(node uint32) string { return string(t.bytesOf(node)) }

// appendNode records the id of the next node (node number len(offs)-1).
func (t *idTable) appendNode(id string) {
	t.arena = append(t.arena, id...)
	t.offs = append(t.offs, uint32(len(t.arena)))
}

func (t *idTable) hash(id string) uint64 { return maphash.String(t.seed, id) }

// sameID compares without converting the arena bytes to a string.
func (t *idTable) sameID(node uint32, id string) bool {
	b := t.bytesOf(node)
	return len(b) == len(id) && unsafe.String(unsafe.SliceData(b), len(b)) == id //nolint:gosec // G103: a read-only view of b for the comparison, no copy; b outlives it
}

// lookup returns the node most recently set for id.
func (t *idTable) lookup(id string) (uint32, bool) {
	if len(t.slots) == 0 {
		return 0, false
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.hash(id) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			return 0, false
		}
		if t.sameID(s-1, id) {
			return s - 1, true
		}
	}
}

// set maps id to node (whose id bytes must already be appended), replacing
// the previous node for the same id.
func (t *idTable) set(id string, node uint32) {
	if (t.used+1)*4 > len(t.slots)*3 {
		t.grow()
	}
	mask := uint64(len(t.slots) - 1)
	for i := t.hash(id) & mask; ; i = (i + 1) & mask {
		s := t.slots[i]
		if s == 0 {
			t.slots[i] = node + 1
			t.used++
			return
		}
		if t.sameID(s-1, id) {
			t.slots[i] = node + 1
			return
		}
	}
}

func (t *idTable) grow() {
	n := max(len(t.slots)*2, 64)
	old := t.slots
	t.slots = make([]uint32, n)
	mask := uint64(n - 1)
	for _, s := range old {
		if s == 0 {
			continue
		}
		i := maphash.Bytes(t.seed, t.bytesOf(s-1)) & mask
		for t.slots[i] != 0 {
			i = (i + 1) & mask
		}
		t.slots[i] = s
	}
}

// reserve pre-sizes the arena/offsets/slots for extra more ids so a bulk
// build does not over-allocate through append doubling.
func (t *idTable) reserve(extra, extraBytes int) {
	if need := len(t.arena) + extraBytes; need > cap(t.arena) {
		a := make([]byte, len(t.arena), need)
		copy(a, t.arena)
		t.arena = a
	}
	if need := len(t.offs) + extra; need > cap(t.offs) {
		o := make([]uint32, len(t.offs), need)
		copy(o, t.offs)
		t.offs = o
	}
	for (t.used+extra)*4 > len(t.slots)*3 {
		t.grow()
	}
}

func (t *idTable) memoryBytes() int64 {
	return int64(cap(t.arena)) + int64(cap(t.offs))*4 + int64(cap(t.slots))*4
}
