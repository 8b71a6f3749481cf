//go:build !amd64 || purego

package vector

// Platforms without the assembly kernels use the unrolled Go versions.
const useAVX2 = false

func dot(x, y []float32) float32  { return dotGo(x, y) }
func l2sq(x, y []float32) float32 { return l2sqGo(x, y) }

// prefetch is a no-op without assembly support.
func prefetch(v []float32) {}

func dotRows(q, rows, out []float32)  { dotRowsGo(q, rows, out) }
func l2sqRows(q, rows, out []float32) { l2sqRowsGo(q, rows, out) }

// prefetchLinks is a no-op without assembly support.
func prefetchLinks(b []uint32) {}
