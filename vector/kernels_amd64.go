//go:build amd64 && !purego

package vector

import "golang.org/x/sys/cpu"

// useAVX2 selects the assembly kernels; FMA is required too (every AVX2
// CPU shipped so far has it, but the check is cheap and done once).
var useAVX2 = cpu.X86.HasAVX2 && cpu.X86.HasFMA

// dotAVX2 and l2sqAVX2 are implemented in kernels_amd64.s. They read
// len(x) elements of both slices; callers guarantee len(y) >= len(x).
//
//go:noescape
func dotAVX2(x, y []float32) float32

//go:noescape
func l2sqAVX2(x, y []float32) float32

// prefetchAVX2 is implemented in kernels_amd64.s (it needs no AVX2; the
// name only groups it with the other assembly).
//
//go:noescape
func prefetchAVX2(v []float32)

//go:noescape
func prefetchLinksAVX2(b []uint32)

// prefetch hints that v will be read soon. It never faults.
func prefetch(v []float32) { prefetchAVX2(v) }

// prefetchLinks hints that neighbour block b will be read soon.
func prefetchLinks(b []uint32) { prefetchLinksAVX2(b) }

// dot returns sum(x[i]*y[i]); len(y) must be >= len(x).
func dot(x, y []float32) float32 {
	if useAVX2 {
		return dotAVX2(x, y)
	}
	return dotGo(x, y)
}

// l2sq returns sum((x[i]-y[i])^2); len(y) must be >= len(x).
func l2sq(x, y []float32) float32 {
	if useAVX2 {
		return l2sqAVX2(x, y)
	}
	return l2sqGo(x, y)
}

// dotRowsAVX2 and l2sqRowsAVX2 (kernels_amd64.s) apply the kernel to
// len(out) consecutive rows of len(q) floats.
//
//go:noescape
func dotRowsAVX2(q, rows, out []float32)

//go:noescape
func l2sqRowsAVX2(q, rows, out []float32)

// dotRows sets out[r] = dot(q, row r of rows) for r < len(out); rows must
// hold at least len(out)*len(q) floats.
func dotRows(q, rows, out []float32) {
	_ = rows[:len(out)*len(q)] // bounds check once, not per row
	if useAVX2 {
		dotRowsAVX2(q, rows, out)
		return
	}
	dotRowsGo(q, rows, out)
}

// l2sqRows sets out[r] = l2sq(q, row r of rows) for r < len(out).
func l2sqRows(q, rows, out []float32) {
	_ = rows[:len(out)*len(q)]
	if useAVX2 {
		l2sqRowsAVX2(q, rows, out)
		return
	}
	l2sqRowsGo(q, rows, out)
}
