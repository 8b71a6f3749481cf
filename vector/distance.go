package vector

import "math"

// The hot kernels dot and l2sq live in kernels_*.go: AVX2/FMA assembly on
// amd64 (Go does not auto-vectorise; scalar loops are 5-7x slower), the
// unrolled Go below elsewhere. The kernels are tested against the naive
// scalar references in distance_test.go.

// l2 returns the Euclidean distance sqrt(sum((x[i]-y[i])^2)).
func l2(x, y []float32) float32 {
	return float32(math.Sqrt(float64(l2sq(x, y))))
}

// dotGo is the portable kernel: four accumulators break the dependency
// chain on the adder so the loop is not latency-bound.
func dotGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		s0 += x[i] * y[i]
		s1 += x[i+1] * y[i+1]
		s2 += x[i+2] * y[i+2]
		s3 += x[i+3] * y[i+3]
	}
	for ; i < len(x); i++ {
		s0 += x[i] * y[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// l2sqGo is the portable squared-L2 kernel.
func l2sqGo(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		d0, d1, d2, d3 := x[i]-y[i], x[i+1]-y[i+1], x[i+2]-y[i+2], x[i+3]-y[i+3]
		s0 += d0 * d0
		s1 += d1 * d1
		s2 += d2 * d2
		s3 += d3 * d3
	}
	for ; i < len(x); i++ {
		d := x[i] - y[i]
		s0 += d * d
	}
	return (s0 + s1) + (s2 + s3)
}

// dotRowsGo and l2sqRowsGo are the portable row-batch kernels.
func dotRowsGo(q, rows, out []float32) {
	d := len(q)
	for r := range out {
		out[r] = dotGo(q, rows[r*d:(r+1)*d])
	}
}

func l2sqRowsGo(q, rows, out []float32) {
	d := len(q)
	for r := range out {
		out[r] = l2sqGo(q, rows[r*d:(r+1)*d])
	}
}

// invNorm returns 1/||v||, or 0 for the zero vector. Accumulating in float64
// avoids overflow for large-but-finite components. Cosine distances are
// computed as 1 - dot*invNorm(a)*invNorm(b), so a zero vector yields exactly
// 1 without a special case in the hot loop.
func invNorm(v []float32) float32 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	if s == 0 {
		return 0
	}
	return float32(1 / math.Sqrt(s))
}

// cosineFromDot turns a dot product and two inverse norms into a cosine
// distance clamped to [0, 2] (rounding can push it slightly outside).
func cosineFromDot(d, invA, invB float32) float32 {
	c := 1 - d*invA*invB
	if c < 0 {
		return 0
	}
	if c > 2 {
		return 2
	}
	return c
}
