package loadgen

import (
	"math"
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram records durations in log-linear buckets, as HdrHistogram does:
// values below 2^subBits nanoseconds have a bucket each, and every further
// power of two is split into 2^(subBits-1) equal buckets, so a recorded value
// is known to within 1/2^(subBits-1) (under 1%) of itself. Memory is fixed
// (about 34 KiB) whatever the count, over 0 to 2^40 ns (about 18 minutes;
// larger values land in the last bucket).
//
// Record is safe for concurrent use (one atomic add, no allocation); the
// reading methods see every Record that happened before them.
type Histogram struct {
	counts [numBuckets]atomic.Uint64
	n      atomic.Uint64
	sum    atomic.Uint64 // ns
	min    atomic.Uint64 // ns, valid when n > 0
	max    atomic.Uint64 // ns
}

const (
	subBits    = 8            // buckets per octave: 2^(subBits-1) = 128
	subCount   = 1 << subBits // 256: values [0, 256) are exact
	halfCount  = subCount / 2 // 128
	maxExp     = 40           // values below 2^40 ns (≈ 18 min) are bucketed
	numBuckets = subCount + (maxExp-subBits)*halfCount
)

// NewHistogram returns an empty histogram.
func NewHistogram() *Histogram {
	h := &Histogram{}
	h.min.Store(math.MaxUint64)
	return h
}

// bucketOf returns the bucket index of v (ns).
func bucketOf(v uint64) int {
	if v < subCount {
		return int(v)
	}
	// v has l bits, l > subBits; keep its top subBits bits.
	l := bits.Len64(v)
	if l > maxExp {
		return numBuckets - 1
	}
	shift := l - subBits
	top := v >> shift // in [halfCount, subCount)
	return subCount + (shift-1)*halfCount + int(top-halfCount)
}

// bucketRange returns the smallest and largest value (ns) of bucket i.
func bucketRange(i int) (lo, hi uint64) {
	if i < subCount {
		return uint64(i), uint64(i)
	}
	j := i - subCount
	shift := j/halfCount + 1
	top := uint64(j%halfCount + halfCount)
	lo = top << shift
	return lo, lo + (1 << shift) - 1
}

// Record adds one duration. Negative durations count as 0.
func (h *Histogram) Record(d time.Duration) {
	v := uint64(max(d, 0))
	h.counts[bucketOf(v)].Add(1)
	h.n.Add(1)
	h.sum.Add(v)
	for cur := h.min.Load(); v < cur && !h.min.CompareAndSwap(cur, v); cur = h.min.Load() {
	}
	for cur := h.max.Load(); v > cur && !h.max.CompareAndSwap(cur, v); cur = h.max.Load() {
	}
}

// Merge adds every value recorded in o to h.
func (h *Histogram) Merge(o *Histogram) {
	for i := range o.counts {
		if c := o.counts[i].Load(); c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.n.Add(o.n.Load())
	h.sum.Add(o.sum.Load())
	if m := o.min.Load(); m < h.min.Load() {
		h.min.Store(m)
	}
	if m := o.max.Load(); m > h.max.Load() {
		h.max.Store(m)
	}
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 { return h.n.Load() }

// Mean returns the mean, exact (sums are kept exactly).
func (h *Histogram) Mean() time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	return time.Duration(h.sum.Load() / n)
}

// Min and Max are exact.
func (h *Histogram) Min() time.Duration {
	if h.n.Load() == 0 {
		return 0
	}
	return time.Duration(h.min.Load())
}

// Max returns the largest recorded value.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Percentile returns the value at percentile p (0 < p ≤ 100): the value
// of rank ceil(p/100·n) in sorted order, to within the bucket's width
// (the bucket's midpoint, clamped to the exact min and max).
func (h *Histogram) Percentile(p float64) time.Duration {
	n := h.n.Load()
	if n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(p / 100 * float64(n)))
	rank = min(max(rank, 1), n)
	var seen uint64
	for i := range h.counts {
		seen += h.counts[i].Load()
		if seen >= rank {
			lo, hi := bucketRange(i)
			v := lo + (hi-lo)/2
			v = min(max(v, h.min.Load()), h.max.Load())
			return time.Duration(v)
		}
	}
	return h.Max()
}

// Summary is a histogram's digest.
type Summary struct {
	Count uint64        `json:"count"`
	Mean  time.Duration `json:"mean_ns"`
	Min   time.Duration `json:"min_ns"`
	P50   time.Duration `json:"p50_ns"`
	P90   time.Duration `json:"p90_ns"`
	P99   time.Duration `json:"p99_ns"`
	P999  time.Duration `json:"p999_ns"`
	Max   time.Duration `json:"max_ns"`
}

// Summary digests h.
func (h *Histogram) Summary() Summary {
	return Summary{
		Count: h.Count(), Mean: h.Mean(), Min: h.Min(), Max: h.Max(),
		P50: h.Percentile(50), P90: h.Percentile(90), P99: h.Percentile(99), P999: h.Percentile(99.9),
	}
}
