package loadgen

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestBucketsCoverAndOrder(t *testing.T) {
	prevHi := int64(-1)
	for i := range numBuckets {
		lo, hi := bucketRange(i)
		if int64(lo) != prevHi+1 || hi < lo {
			t.Fatalf("bucket %d = [%d, %d], previous ended at %d", i, lo, hi, prevHi)
		}
		if bucketOf(lo) != i || bucketOf(hi) != i {
			t.Fatalf("bucket %d: bucketOf(lo)=%d bucketOf(hi)=%d", i, bucketOf(lo), bucketOf(hi))
		}
		if lo >= subCount && float64(hi-lo+1)/float64(lo) > 1.0/halfCount+1e-12 {
			t.Fatalf("bucket %d too wide: [%d, %d]", i, lo, hi)
		}
		prevHi = int64(hi)
	}
	if bucketOf(math.MaxUint64) != numBuckets-1 {
		t.Fatal("huge values must land in the last bucket")
	}
}

func TestPercentilesMatchSortedReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func() time.Duration
	}{
		{"uniform-µs", func() time.Duration { return time.Duration(rng.IntN(1e6)) }},
		{"lognormal", func() time.Duration { return time.Duration(math.Exp(rng.NormFloat64()*1.5 + 11)) }},
		{"bimodal", func() time.Duration {
			if rng.IntN(100) == 0 {
				return time.Duration(50e6 + rng.IntN(1e6))
			}
			return time.Duration(30e3 + rng.IntN(5e3))
		}},
		{"small", func() time.Duration { return time.Duration(rng.IntN(300)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHistogram()
			ref := make([]time.Duration, 20_000)
			for i := range ref {
				ref[i] = tc.gen()
				h.Record(ref[i])
			}
			slices.Sort(ref)
			for _, p := range []float64{1, 10, 50, 90, 99, 99.9, 100} {
				want := ref[int(math.Ceil(p/100*float64(len(ref))))-1]
				got := h.Percentile(p)
				if diff := math.Abs(float64(got - want)); diff > float64(want)/halfCount+1 {
					t.Errorf("p%v = %v, want %v (±%.2f%%)", p, got, want, 100.0/halfCount)
				}
			}
			if h.Min() != ref[0] || h.Max() != ref[len(ref)-1] || h.Count() != uint64(len(ref)) {
				t.Errorf("min/max/count = %v/%v/%d, want %v/%v/%d", h.Min(), h.Max(), h.Count(), ref[0], ref[len(ref)-1], len(ref))
			}
			var sum time.Duration
			for _, v := range ref {
				sum += v
			}
			if h.Mean() != sum/time.Duration(len(ref)) {
				t.Errorf("mean = %v, want %v", h.Mean(), sum/time.Duration(len(ref)))
			}
		})
	}
}

func TestHistogramMergeAndConcurrentRecord(t *testing.T) {
	a, b := NewHistogram(), NewHistogram()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for i := range 1000 {
				a.Record(time.Duration(g*1000 + i))
			}
		})
	}
	wg.Wait()
	b.Record(time.Hour)
	b.Merge(a)
	if b.Count() != 4001 || b.Min() != 0 || b.Max() != time.Hour {
		t.Fatalf("merged count/min/max = %d/%v/%v", b.Count(), b.Min(), b.Max())
	}
	if NewHistogram().Percentile(50) != 0 {
		t.Fatal("empty histogram percentile should be 0")
	}
}

func TestZipfSanity(t *testing.T) {
	const n, draws = 1000, 200_000
	pick := keyPicker(rand.New(rand.NewPCG(3, 4)), Config{Keys: n, Dist: Zipf, ZipfS: 1.1})
	counts := make([]int, n)
	for range draws {
		k := pick()
		if k < 0 || k >= n {
			t.Fatalf("key %d out of range", k)
		}
		counts[k]++
	}
	// P(k) ∝ (1+k)^-s: the hottest key is drawn about 2^1.1 ≈ 2.14 times
	// as often as the second and 10^1.1 ≈ 12.6 times as often as the
	// tenth.
	if r := float64(counts[0]) / float64(counts[1]); r < 1.9 || r > 2.4 {
		t.Errorf("count[0]/count[1] = %.2f, want ≈ 2.14", r)
	}
	if r := float64(counts[0]) / float64(counts[9]); r < 10 || r > 15.5 {
		t.Errorf("count[0]/count[9] = %.2f, want ≈ 12.6", r)
	}
	top10 := 0
	for _, c := range counts[:10] {
		top10 += c
	}
	if top10 < draws/3 {
		t.Errorf("top 10 keys drew %d of %d: not skewed", top10, draws)
	}
	// Uniform, for contrast: no key far above its share.
	pick = keyPicker(rand.New(rand.NewPCG(3, 4)), Config{Keys: n, Dist: Uniform})
	clear(counts)
	for range draws {
		counts[pick()]++
	}
	if m := slices.Max(counts); m > 2*draws/n {
		t.Errorf("uniform: max count %d, share %d", m, draws/n)
	}
}

// memTarget is an in-memory Target for the engine's own tests.
type memTarget struct {
	mu   sync.Mutex
	m    map[string][]byte
	fail bool
}

func (m *memTarget) Put(ctx context.Context, key string, v []byte) error {
	if m.fail {
		return errors.New("boom")
	}
	m.mu.Lock()
	m.m[key] = v
	m.mu.Unlock()
	return nil
}

func (m *memTarget) Get(ctx context.Context, key string) (bool, error) {
	m.mu.Lock()
	_, ok := m.m[key]
	m.mu.Unlock()
	return ok, nil
}

func TestRunCountsAndStops(t *testing.T) {
	mt := &memTarget{m: map[string][]byte{}}
	var progress int
	res, err := Run(context.Background(), mt, Config{
		Concurrency: 4, Duration: 300 * time.Millisecond, Keys: 100, ReadRatio: 0.5, Preload: true,
		ProgressEvery: 50 * time.Millisecond, Progress: func(Progress) { progress++ }, SampleRuntime: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Errors != 0 || res.PerOp["put"] == nil || res.PerOp["get"] == nil {
		t.Fatalf("result %+v", res)
	}
	if res.PerOp["get"].Misses != 0 {
		t.Errorf("preloaded keys missed %d times", res.PerOp["get"].Misses)
	}
	if res.PerOp["put"].Ops+res.PerOp["get"].Ops != res.Ops || res.Latency.Count != res.Ops {
		t.Errorf("counts disagree: %+v", res)
	}
	if progress == 0 || len(res.Runtime) < 2 {
		t.Errorf("progress calls %d, runtime samples %d", progress, len(res.Runtime))
	}
	if res.Elapsed > 2*time.Second {
		t.Errorf("ran %v for a 300ms duration", res.Elapsed)
	}

	mt.fail = true
	res, err = Run(context.Background(), mt, Config{Concurrency: 2, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || res.Errors != res.Ops || len(res.FirstErrors) != 1 {
		t.Errorf("failing target: ops %d errors %d first %q", res.Ops, res.Errors, res.FirstErrors)
	}
}

// cancelAfter is a target that cancels the run's ctx once it has served
// n operations, so a test of ctx cancellation does not depend on how
// much a loaded machine gets done before a deadline.
type cancelAfter struct {
	memTarget
	n      atomic.Int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Put(ctx context.Context, key string, v []byte) error {
	if c.n.Add(-1) == 0 {
		c.cancel()
	}
	return c.memTarget.Put(ctx, key, v)
}

func (c *cancelAfter) Get(ctx context.Context, key string) (bool, error) {
	if c.n.Add(-1) == 0 {
		c.cancel()
	}
	return c.memTarget.Get(ctx, key)
}

// Run stops when its ctx ends, long before Duration. The ctx ends after
// 100 operations, not after a fixed time: a 100 ms deadline passed
// before the first operation on a busy machine under -race ("ran 243ms,
// 0 ops").
func TestRunHonoursCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	target := &cancelAfter{memTarget: memTarget{m: map[string][]byte{}}, cancel: cancel}
	target.n.Store(100)
	start := time.Now()
	res, err := Run(ctx, target, Config{Concurrency: 2, Duration: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	// Far below Duration, far above any scheduling delay.
	if took := time.Since(start); took > 30*time.Second || res.Ops < 100 {
		t.Fatalf("ctx end: ran %v, %d ops; want it to stop soon after 100 ops", took, res.Ops)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []Config{{ReadRatio: 2}, {Dist: "pareto"}, {Dist: Zipf, ZipfS: 0.5}} {
		if _, err := Run(context.Background(), &memTarget{}, c); err == nil {
			t.Errorf("Run(%+v) succeeded", c)
		}
	}
}
