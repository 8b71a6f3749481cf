// Package heap is a binary heap over a slice, generic over the element
// type and its order.
//
// It exists instead of container/heap because that one works through an
// interface: every Push and Pop boxes the element (an allocation) and
// every comparison is a dynamic call through heap.Interface. Here the
// elements stay unboxed in one slice the heap owns, so a heap that is
// Reset and reused allocates nothing once its slice has grown.
//
// Less is still called through the instantiation's dictionary, not
// inlined, so where a loop does little but heap operations a heap
// hand-written over the concrete type is faster: vector's HNSW search keeps
// one for that reason (measured 3-9 % per query).
package heap

import "slices"

// Order ranks elements: the element no other is Less than is on top.
// Implementations are usually empty structs (a fixed order), or carry what
// the comparison needs (a lookup table for tie-breaks).
type Order[T any] interface {
	Less(a, b T) bool
}

// Heap is a binary heap of T ordered by O. The zero value is an empty heap
// ordered by the zero O; set Order before the first Push when O carries
// state.
type Heap[T any, O Order[T]] struct {
	// Order is the ranking. Changing it on a non-empty heap breaks the
	// heap property.
	Order O
	s     []T
}

// Len returns the number of elements.
func (h *Heap[T, O]) Len() int { return len(h.s) }

// Top returns the top element without removing it. The heap must not be
// empty.
func (h *Heap[T, O]) Top() T { return h.s[0] }

// Reset empties the heap, keeping its storage for reuse.
func (h *Heap[T, O]) Reset() { h.s = h.s[:0] }

// Grow makes room for n more elements without reallocating.
func (h *Heap[T, O]) Grow(n int) { h.s = slices.Grow(h.s, n) }

// Push adds x.
func (h *Heap[T, O]) Push(x T) {
	h.s = append(h.s, x)
	h.up(len(h.s) - 1)
}

// Pop removes and returns the top element. The heap must not be empty.
func (h *Heap[T, O]) Pop() T {
	top := h.s[0]
	n := len(h.s) - 1
	h.s[0] = h.s[n]
	h.s = h.s[:n]
	h.down(0)
	return top
}

// ReplaceTop replaces the top element with x and restores the order: one
// sift instead of the Pop and Push a bounded top-k would otherwise do.
// The heap must not be empty.
func (h *Heap[T, O]) ReplaceTop(x T) {
	h.s[0] = x
	h.down(0)
}

// At returns the element at position i (0 <= i < Len) in heap order: what
// Fix and Remove take. Position 0 is the top.
func (h *Heap[T, O]) At(i int) T { return h.s[i] }

// Fix restores the order after the element at position i changed rank.
func (h *Heap[T, O]) Fix(i int) {
	if !h.down(i) {
		h.up(i)
	}
}

// Remove removes and returns the element at position i.
func (h *Heap[T, O]) Remove(i int) T {
	x := h.s[i]
	n := len(h.s) - 1
	if i != n {
		h.s[i] = h.s[n]
	}
	h.s = h.s[:n]
	if i != n {
		h.Fix(i)
	}
	return x
}

func (h *Heap[T, O]) up(i int) {
	s := h.s
	for i > 0 {
		p := (i - 1) / 2
		if !h.Order.Less(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

// down sifts the element at i towards the leaves and reports whether it
// moved.
func (h *Heap[T, O]) down(i0 int) bool {
	s, n, i := h.s, len(h.s), i0
	for {
		l := 2*i + 1
		if l >= n || l < 0 { // l < 0: int overflow
			break
		}
		m := l
		if r := l + 1; r < n && h.Order.Less(s[r], s[l]) {
			m = r
		}
		if !h.Order.Less(s[m], s[i]) {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	return i > i0
}
