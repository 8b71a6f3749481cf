package vector

import (
	"math"

	"github.com/viterin/vek/vek32"
)

// The kernels below wrap github.com/viterin/vek, which ships AVX2/FMA Go
// assembly (no cgo) and falls back to pure Go on CPUs without AVX2. Go does
// not auto-vectorise, and a scalar loop is 5-7x slower, so these are the
// hot path of both index kinds. vek panics on empty input, hence the guards
// (unreachable for validated vectors, which have >= 1 dimension).

// dot returns sum(x[i]*y[i]); len(x) == len(y).
func dot(x, y []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	return vek32.Dot(x, y)
}

// l2 returns sqrt(sum((x[i]-y[i])^2)); len(x) == len(y).
func l2(x, y []float32) float32 {
	if len(x) == 0 {
		return 0
	}
	return vek32.Distance(x, y)
}

// dotScalar and l2Scalar are the plain-Go references the SIMD kernels are
// tested against.
func dotScalar(x, y []float32) float32 {
	var s float32
	for i := range x {
		s += x[i] * y[i]
	}
	return s
}

func l2Scalar(x, y []float32) float32 {
	var s float32
	for i := range x {
		d := x[i] - y[i]
		s += d * d
	}
	return float32(math.Sqrt(float64(s)))
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

// distance computes the metric between a query (with its inverse norm,
// used only for Cosine) and a stored vector (with its inverse norm).
func distance(m Distance, q []float32, qInv float32, x []float32, xInv float32) float32 {
	switch m {
	case Euclidean:
		return l2(q, x)
	case Cosine:
		return cosineFromDot(dot(q, x), qInv, xInv)
	default:
		return -dot(q, x)
	}
}
