// Package loadgen is the engine of `norikv bench` and of the benchmark
// module's comparison: closed-loop workers issue Puts and Gets against a
// Target for a fixed time and record every latency in a fixed-memory
// log-linear histogram.
//
// It knows nothing of RPC: a Target is two functions. The norikv SDK, a raw
// generated Connect client and a plain grpc-go client are all adapted to it
// by their callers.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Target is what the load runs against. Both methods must be safe for
// concurrent use. Get reports found=false for a missing key (a miss, not an
// error).
type Target interface {
	Put(ctx context.Context, key string, value []byte) error
	Get(ctx context.Context, key string) (found bool, err error)
}

// RetryCounter is optionally implemented by a Target that retries: Run
// reports the growth of its counters over the measured interval.
type RetryCounter interface {
	RetryCounts() (retries, redirects uint64)
}

// Dist is the key distribution.
type Dist string

const (
	// Uniform picks every key with the same probability.
	Uniform Dist = "uniform"
	// Zipf picks key i (0-based) with probability ∝ 1/(1+i)^s: a few hot
	// keys take most of the load.
	Zipf Dist = "zipf"
)

// ParseDist parses "uniform" or "zipf".
func ParseDist(s string) (Dist, error) {
	switch Dist(s) {
	case Uniform, Zipf:
		return Dist(s), nil
	}
	return "", fmt.Errorf("loadgen: unknown distribution %q (want uniform or zipf)", s)
}

// Config describes a run. Zero fields take the defaults noted.
type Config struct {
	// Concurrency is the number of closed-loop workers. Default 16.
	Concurrency int
	// Duration is how long the measured phase lasts. Default 10s.
	Duration time.Duration
	// ValueSize is the size of written values in bytes. Default 100.
	ValueSize int
	// Keys is the size of the key space. Default 10,000.
	Keys int
	// KeyPrefix prefixes every key. Default "bench-".
	KeyPrefix string
	// ReadRatio is the share of operations that are Gets, in [0, 1].
	ReadRatio float64
	// Dist is the key distribution. Default Uniform.
	Dist Dist
	// ZipfS is Zipf's exponent, > 1. Default 1.1.
	ZipfS float64
	// Preload writes every key once before the measured phase, so Gets
	// hit. Skipped when ReadRatio is 0.
	Preload bool
	// Seed makes key and operation choices reproducible. 0: random.
	Seed uint64
	// ProgressEvery is the interval of Progress calls. Default 1s.
	ProgressEvery time.Duration
	// Progress, if set, is called every ProgressEvery during the measured
	// phase from one goroutine.
	Progress func(Progress)
	// SampleRuntime records heap and goroutine samples every
	// ProgressEvery into Result.Runtime.
	SampleRuntime bool
}

func (c Config) withDefaults() (Config, error) {
	if c.Concurrency <= 0 {
		c.Concurrency = 16
	}
	if c.Duration <= 0 {
		c.Duration = 10 * time.Second
	}
	if c.ValueSize <= 0 {
		c.ValueSize = 100
	}
	if c.Keys <= 0 {
		c.Keys = 10_000
	}
	if c.KeyPrefix == "" {
		c.KeyPrefix = "bench-"
	}
	if c.ReadRatio < 0 || c.ReadRatio > 1 {
		return c, fmt.Errorf("loadgen: read ratio %v not in [0, 1]", c.ReadRatio)
	}
	if c.Dist == "" {
		c.Dist = Uniform
	}
	if _, err := ParseDist(string(c.Dist)); err != nil {
		return c, err
	}
	if c.ZipfS == 0 {
		c.ZipfS = 1.1
	}
	if c.ZipfS <= 1 {
		return c, fmt.Errorf("loadgen: zipf exponent %v must be > 1", c.ZipfS)
	}
	if c.ProgressEvery <= 0 {
		c.ProgressEvery = time.Second
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()
	}
	return c, nil
}

// Progress is a snapshot of a run in progress.
type Progress struct {
	Elapsed    time.Duration
	Ops        uint64  // operations completed
	Errors     uint64  // of which failed
	Rate       float64 // ops/s over the last interval
	P99        time.Duration
	Goroutines int
}

// RuntimeSample is the process's heap and goroutine count at one moment.
type RuntimeSample struct {
	Elapsed    time.Duration `json:"elapsed_ns"`
	HeapAlloc  uint64        `json:"heap_alloc"`
	HeapInuse  uint64        `json:"heap_inuse"`
	HeapLive   uint64        `json:"heap_live"` // marked live by the last GC
	NumGC      uint32        `json:"num_gc"`
	Goroutines int           `json:"goroutines"`
}

// OpResult is one operation's figures.
type OpResult struct {
	Ops     uint64  `json:"ops"`
	Errors  uint64  `json:"errors"`
	Misses  uint64  `json:"misses,omitempty"` // Gets of missing keys
	OpsPerS float64 `json:"ops_per_s"`
	Latency Summary `json:"latency"`
}

// Result is a run's outcome.
type Result struct {
	Config  ResultConfig         `json:"config"`
	Elapsed time.Duration        `json:"elapsed_ns"`
	Ops     uint64               `json:"ops"`
	Errors  uint64               `json:"errors"`
	OpsPerS float64              `json:"ops_per_s"`
	Latency Summary              `json:"latency"` // all operations
	PerOp   map[string]*OpResult `json:"per_op"`  // "put", "get"
	// CPUPerOp is the process's CPU time (user + system, every goroutine:
	// an embedded server's included) per operation; 0 where unmeasured.
	CPUPerOp  time.Duration `json:"cpu_per_op_ns"`
	Retries   uint64        `json:"retries"`
	Redirects uint64        `json:"redirects"`
	// FirstErrors holds up to 5 distinct error messages.
	FirstErrors []string        `json:"first_errors,omitempty"`
	Runtime     []RuntimeSample `json:"runtime,omitempty"`
}

// ResultConfig echoes the parameters of a run.
type ResultConfig struct {
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"duration_s"`
	ValueSize   int     `json:"value_size"`
	Keys        int     `json:"keys"`
	ReadRatio   float64 `json:"read_ratio"`
	Dist        Dist    `json:"dist"`
}

const (
	opPut = iota
	opGet
	numOps
)

var opNames = [numOps]string{"put", "get"}

// worker state, padded so that workers' counters do not share cache lines.
type worker struct {
	ops    atomic.Uint64
	errs   atomic.Uint64
	misses [numOps]uint64
	opsBy  [numOps]uint64
	errsBy [numOps]uint64
	_      [64]byte
}

// Run preloads (if asked), then runs the measured phase until cfg.Duration
// has passed or ctx ends, and returns the figures. Operations in flight
// when ctx ends are not counted as errors. It returns an error only for a
// bad Config or a failed preload.
func Run(ctx context.Context, t Target, cfg Config) (*Result, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	keys := make([]string, cfg.Keys)
	width := len(strconv.Itoa(cfg.Keys - 1))
	for i := range keys {
		keys[i] = fmt.Sprintf("%s%0*d", cfg.KeyPrefix, width, i)
	}
	if cfg.Preload && cfg.ReadRatio > 0 {
		if err := preload(ctx, t, keys, cfg); err != nil {
			return nil, err
		}
	}

	hists := [numOps]*Histogram{NewHistogram(), NewHistogram()}
	workers := make([]worker, cfg.Concurrency)
	var errMu sync.Mutex
	var firstErrs []string
	noteErr := func(err error) {
		errMu.Lock()
		defer errMu.Unlock()
		if len(firstErrs) >= 5 {
			return
		}
		msg := err.Error()
		if slices.Contains(firstErrs, msg) {
			return
		}
		firstErrs = append(firstErrs, msg)
	}

	var r0, d0 uint64
	rc, hasRC := t.(RetryCounter)
	if hasRC {
		r0, d0 = rc.RetryCounts()
	}
	var stop atomic.Bool
	cpu0 := processCPU()
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			runWorker(ctx, t, cfg, keys, uint64(w), &workers[w], hists, &stop, noteErr)
		})
	}

	res := &Result{}
	timer := time.NewTimer(cfg.Duration)
	defer timer.Stop()
	tick := time.NewTicker(cfg.ProgressEvery)
	defer tick.Stop()
	var lastOps uint64
	lastT := start
	sample := func(now time.Time) {
		if cfg.SampleRuntime {
			res.Runtime = append(res.Runtime, sampleRuntime(now.Sub(start)))
		}
	}
	sample(start)
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case <-timer.C:
			break loop
		case now := <-tick.C:
			sample(now)
			if cfg.Progress != nil {
				var ops, errs uint64
				for i := range workers {
					ops += workers[i].ops.Load()
					errs += workers[i].errs.Load()
				}
				cfg.Progress(Progress{
					Elapsed: now.Sub(start), Ops: ops, Errors: errs,
					Rate:       float64(ops-lastOps) / now.Sub(lastT).Seconds(),
					P99:        max(hists[opPut].Percentile(99), hists[opGet].Percentile(99)),
					Goroutines: runtime.NumGoroutine(),
				})
				lastOps, lastT = ops, now
			}
		}
	}
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU() - cpu0
	sample(time.Now())

	if hasRC {
		r1, d1 := rc.RetryCounts()
		res.Retries, res.Redirects = r1-r0, d1-d0
	}
	res.Config = ResultConfig{
		Concurrency: cfg.Concurrency, DurationS: cfg.Duration.Seconds(), ValueSize: cfg.ValueSize,
		Keys: cfg.Keys, ReadRatio: cfg.ReadRatio, Dist: cfg.Dist,
	}
	res.Elapsed = elapsed
	res.FirstErrors = firstErrs
	res.PerOp = map[string]*OpResult{}
	all := NewHistogram()
	for op := range numOps {
		o := &OpResult{Latency: hists[op].Summary()}
		for i := range workers {
			o.Ops += workers[i].opsBy[op]
			o.Errors += workers[i].errsBy[op]
			o.Misses += workers[i].misses[op]
		}
		if o.Ops == 0 {
			continue
		}
		o.OpsPerS = float64(o.Ops) / elapsed.Seconds()
		res.PerOp[opNames[op]] = o
		res.Ops += o.Ops
		res.Errors += o.Errors
		all.Merge(hists[op])
	}
	res.OpsPerS = float64(res.Ops) / elapsed.Seconds()
	if res.Ops > 0 {
		res.CPUPerOp = cpu / time.Duration(res.Ops)
	}
	res.Latency = all.Summary()
	return res, nil
}

func runWorker(ctx context.Context, t Target, cfg Config, keys []string, id uint64, w *worker,
	hists [numOps]*Histogram, stop *atomic.Bool, noteErr func(error)) {
	rng := rand.New(rand.NewPCG(cfg.Seed, id))
	pick := keyPicker(rng, cfg)
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = byte('a' + rng.IntN(26))
	}
	for !stop.Load() && ctx.Err() == nil {
		op := opPut
		if cfg.ReadRatio > 0 && rng.Float64() < cfg.ReadRatio {
			op = opGet
		}
		key := keys[pick()]
		var err error
		found := true
		t0 := time.Now()
		if op == opPut {
			err = t.Put(ctx, key, value)
		} else {
			found, err = t.Get(ctx, key)
		}
		d := time.Since(t0)
		if err != nil && ctx.Err() != nil {
			return // interrupted: neither an operation nor an error
		}
		hists[op].Record(d)
		w.opsBy[op]++
		w.ops.Add(1)
		if err != nil {
			w.errsBy[op]++
			w.errs.Add(1)
			noteErr(err)
		} else if !found {
			w.misses[op]++
		}
	}
}

// keyPicker returns a function drawing key indexes in [0, cfg.Keys).
func keyPicker(rng *rand.Rand, cfg Config) func() int {
	n := cfg.Keys
	if cfg.Dist == Zipf && n > 1 {
		z := rand.NewZipf(rng, cfg.ZipfS, 1, uint64(n-1))
		return func() int { return int(z.Uint64()) }
	}
	return func() int { return rng.IntN(n) }
}

// preload writes every key once, cfg.Concurrency at a time.
func preload(ctx context.Context, t Target, keys []string, cfg Config) error {
	var next atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, cfg.Concurrency)
	value := make([]byte, cfg.ValueSize)
	for i := range value {
		value[i] = 'p'
	}
	for range cfg.Concurrency {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(len(keys)) || ctx.Err() != nil {
					return
				}
				if err := t.Put(ctx, keys[i], value); err != nil {
					errc <- fmt.Errorf("loadgen: preload %s: %w", keys[i], err)
					next.Store(int64(len(keys)))
					return
				}
			}
		})
	}
	wg.Wait()
	close(errc)
	var errs []error
	for err := range errc {
		errs = append(errs, err)
	}
	if len(errs) == 0 && ctx.Err() != nil {
		return ctx.Err()
	}
	return errors.Join(errs...)
}

func sampleRuntime(elapsed time.Duration) RuntimeSample {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return RuntimeSample{
		Elapsed: elapsed, HeapAlloc: ms.HeapAlloc, HeapInuse: ms.HeapInuse,
		HeapLive: heapLive(), NumGC: ms.NumGC, Goroutines: runtime.NumGoroutine(),
	}
}
