package loadgen

import (
	"fmt"
	"io"
	"runtime/metrics"
	"strings"
	"time"
)

// heapLive reads the heap marked live by the last GC: the figure that stays
// flat under steady load if nothing leaks (HeapAlloc saw-tooths with every
// cycle).
func heapLive() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() == metrics.KindUint64 {
		return s[0].Value.Uint64()
	}
	return 0
}

// WriteText prints r for people: throughput, then per operation ops/s and
// latency percentiles, then errors and retries.
func (r *Result) WriteText(w io.Writer) {
	c := r.Config
	fmt.Fprintf(w, "concurrency %d, %s, %d-byte values, %d keys (%s), read ratio %.2f\n",
		c.Concurrency, r.Elapsed.Round(time.Millisecond), c.ValueSize, c.Keys, c.Dist, c.ReadRatio)
	fmt.Fprintf(w, "%-5s %10s %10s %9s %9s %9s %9s %9s %9s %7s\n",
		"op", "ops", "ops/s", "mean", "p50", "p90", "p99", "p99.9", "max", "errors")
	row := func(name string, ops, errs uint64, rate float64, s Summary) {
		fmt.Fprintf(w, "%-5s %10d %10.0f %9s %9s %9s %9s %9s %9s %7d\n",
			name, ops, rate, Dur(s.Mean), Dur(s.P50), Dur(s.P90), Dur(s.P99), Dur(s.P999), Dur(s.Max), errs)
	}
	for _, name := range opNames {
		if o := r.PerOp[name]; o != nil {
			row(name, o.Ops, o.Errors, o.OpsPerS, o.Latency)
		}
	}
	if len(r.PerOp) > 1 {
		row("all", r.Ops, r.Errors, r.OpsPerS, r.Latency)
	}
	if o := r.PerOp["get"]; o != nil && o.Misses > 0 {
		fmt.Fprintf(w, "get misses (key not found): %d\n", o.Misses)
	}
	fmt.Fprintf(w, "errors %d, retries %d, redirects %d\n", r.Errors, r.Retries, r.Redirects)
	if r.CPUPerOp > 0 {
		fmt.Fprintf(w, "process CPU per operation %s\n", Dur(r.CPUPerOp))
	}
	for _, e := range r.FirstErrors {
		fmt.Fprintf(w, "  error: %s\n", e)
	}
	if len(r.Runtime) > 0 {
		r.writeRuntime(w)
	}
}

func (r *Result) writeRuntime(w io.Writer) {
	first, last := r.Runtime[0], r.Runtime[len(r.Runtime)-1]
	var maxLive, maxG uint64
	minG := ^uint64(0)
	for _, s := range r.Runtime {
		maxLive = max(maxLive, s.HeapLive)
		maxG = max(maxG, uint64(s.Goroutines))
		minG = min(minG, uint64(s.Goroutines))
	}
	// Compare the second half's live heap with the first half's (after
	// warm-up), so a leak shows as growth.
	h := len(r.Runtime) / 2
	fmt.Fprintf(w, "runtime: %d samples; live heap %s → %s (max %s, median 1st half %s, 2nd half %s); goroutines %d → %d (min %d, max %d); GCs %d\n",
		len(r.Runtime), MiB(first.HeapLive), MiB(last.HeapLive), MiB(maxLive),
		MiB(medianLive(r.Runtime[1:max(h, 1)])), MiB(medianLive(r.Runtime[h:])),
		first.Goroutines, last.Goroutines, minG, maxG, last.NumGC-first.NumGC)
}

func medianLive(s []RuntimeSample) uint64 {
	if len(s) == 0 {
		return 0
	}
	v := make([]uint64, len(s))
	for i := range s {
		v[i] = s[i].HeapLive
	}
	for i := 1; i < len(v); i++ {
		for j := i; j > 0 && v[j] < v[j-1]; j-- {
			v[j], v[j-1] = v[j-1], v[j]
		}
	}
	return v[len(v)/2]
}

// MiB formats a byte count in MiB.
func MiB(b uint64) string { return fmt.Sprintf("%.1fMiB", float64(b)/(1<<20)) }

// Dur formats a latency compactly: 850ns, 41.2µs, 3.10ms, 1.20s.
func Dur(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%dns", d)
	case d < time.Millisecond:
		return fmt.Sprintf("%.1fµs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.2fms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// ProgressLine renders p on one line, for a terminal's \r-updated status.
func ProgressLine(p Progress, total time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%5.1fs/%.0fs  %10d ops  %8.0f ops/s  p99 %s  errors %d  goroutines %d",
		p.Elapsed.Seconds(), total.Seconds(), p.Ops, p.Rate, Dur(p.P99), p.Errors, p.Goroutines)
	return b.String()
}
