package heap

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type intMin struct{}

func (intMin) Less(a, b int) bool { return a < b }

type intMax struct{}

func (intMax) Less(a, b int) bool { return a > b }

// byKey orders indexes by a table, as the brute-force index orders rows by
// their ids: an Order with state.
type byKey struct{ keys []string }

func (o byKey) Less(a, b int) bool { return o.keys[a] < o.keys[b] }

// drain pops everything, checking the order as it goes.
func drain[O Order[int]](t *testing.T, h *Heap[int, O]) []int {
	t.Helper()
	var out []int
	for h.Len() > 0 {
		top := h.Top()
		if x := h.Pop(); x != top {
			t.Fatalf("Pop = %d, Top said %d", x, top)
		}
		out = append(out, top)
	}
	return out
}

func TestPushPopSorts(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 50 {
		in := make([]int, n)
		for i := range in {
			in[i] = r.IntN(20) // duplicates on purpose
		}
		var mn Heap[int, intMin]
		var mx Heap[int, intMax]
		for _, x := range in {
			mn.Push(x)
			mx.Push(x)
		}
		want := slices.Sorted(slices.Values(in))
		if got := drain(t, &mn); !slices.Equal(got, want) {
			t.Fatalf("min n=%d: %v want %v", n, got, want)
		}
		slices.Reverse(want)
		if got := drain(t, &mx); !slices.Equal(got, want) {
			t.Fatalf("max n=%d: %v want %v", n, got, want)
		}
	}
}

// ReplaceTop keeps the k smallest of a stream in a max-heap, the bounded
// top-k the vector indexes do.
func TestReplaceTopKeepsTopK(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	const k = 7
	in := make([]int, 500)
	var h Heap[int, intMax]
	for i := range in {
		in[i] = r.IntN(1000)
		switch {
		case h.Len() < k:
			h.Push(in[i])
		case in[i] < h.Top():
			h.ReplaceTop(in[i])
		}
	}
	got := drain(t, &h)
	slices.Reverse(got)
	want := slices.Sorted(slices.Values(in))[:k]
	if !slices.Equal(got, want) {
		t.Fatalf("top %d = %v, want %v", k, got, want)
	}
}

func TestOrderWithState(t *testing.T) {
	keys := []string{"d", "b", "e", "a", "c"}
	h := Heap[int, byKey]{Order: byKey{keys}}
	for i := range keys {
		h.Push(i)
	}
	if got := drain(t, &h); !slices.Equal(got, []int{3, 1, 4, 0, 2}) {
		t.Fatalf("got %v", got)
	}
}

// Fix and Remove at any position keep the heap valid: what an indexed heap
// (a TTL heap fixed up in place on overwrite) needs.
func TestFixAndRemove(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 200 {
		var h Heap[int, intMin]
		var model []int
		for range 30 {
			x := r.IntN(100)
			h.Push(x)
			model = append(model, x)
		}
		for range 10 {
			i := r.IntN(h.Len())
			old := h.At(i)
			h.s[i] = r.IntN(100) // change the rank in place, then Fix
			model[slices.Index(model, old)] = h.s[i]
			h.Fix(i)
			j := r.IntN(h.Len())
			x := h.Remove(j)
			model = slices.Delete(model, slices.Index(model, x), slices.Index(model, x)+1)
		}
		slices.Sort(model)
		if got := drain(t, &h); !slices.Equal(got, model) {
			t.Fatalf("got %v want %v", got, model)
		}
	}
}

func TestResetAndGrowReuseStorage(t *testing.T) {
	var h Heap[int, intMin]
	h.Grow(64)
	allocs := testing.AllocsPerRun(100, func() {
		h.Reset()
		for i := range 64 {
			h.Push(64 - i)
		}
		for h.Len() > 0 {
			h.Pop()
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per reuse, want 0", allocs)
	}
	h.Push(1)
	h.Grow(1000)
	if h.Len() != 1 || h.Top() != 1 {
		t.Fatalf("Grow lost elements: len %d", h.Len())
	}
}
