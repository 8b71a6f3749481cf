package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/internal/loadgen"
	"github.com/norikv/norikv-go/server"
)

func init() {
	register(&command{
		Name:    "bench",
		Summary: "load-test a cluster (or an embedded one): ops/s and latency percentiles",
		Run:     runBench,
	})
}

const benchExamples = `  norikv bench
      64 workers for 10s against an embedded 3-node cluster in this process
  norikv bench --target 127.0.0.1:9001,127.0.0.1:9002 --protocol connect --duration 30s
  norikv bench --dist zipf --read-ratio 0.9 --value-size 1024 --json
  norikv bench --concurrency 1024 --no-batch
      the same load with every call sent alone: what natural batching gains
  norikv bench --duration 60s --runtime-stats
      also sample this process's heap and goroutines every second
  norikv bench --read-ratio 1 --consistency stale_ok --concurrency 16 --slow-node n2=20ms --trace
      stale reads while node n2 answers 20ms late: they avoid it, and a
      read caught waiting on it is hedged to another replica (--hedge=false,
      --replicas round-robin: compare without)
`

// benchFlags are the bench subcommand's settings.
type benchFlags struct {
	target       string
	shards       int
	protocol     string
	concurrency  int
	duration     time.Duration
	valueSize    int
	keys         int
	readRatio    float64
	dist         string
	zipfS        float64
	preload      bool
	progress     bool
	jsonOut      bool
	runtimeStats bool
	token        string
	timeout      time.Duration
	noBatch      bool
}

// runBench is `norikv bench`: a closed-loop Put/Get load through the Go
// SDK (internal/loadgen), reporting throughput, latency percentiles per
// operation, errors and retries. It stops at --duration, or at once when
// ctx ends (SIGINT), reporting what it measured.
func runBench(ctx context.Context, o IO, args []string) error {
	var f benchFlags
	fs := newFlagSet(o, "bench", "[flags]", benchExamples)
	fs.StringVar(&f.target, "target", "", "comma-separated node `addresses` (host:port); default: start an embedded cluster")
	fs.IntVar(&f.shards, "shards", 0, "the target cluster's shard count `N` (default: learnt from the cluster, as by every other command; ignored for the embedded cluster)")
	fs.StringVar(&f.protocol, "protocol", "grpc", "grpc, connect or grpcweb")
	fs.IntVar(&f.concurrency, "concurrency", 64, "concurrent workers, each with one call in flight")
	fs.durationVar(&f.duration, "duration", 10*time.Second, "how long to measure (a `duration`: 30s, 2m)")
	fs.IntVar(&f.valueSize, "value-size", 100, "bytes per written value")
	fs.IntVar(&f.keys, "keys", 10_000, "size of the key space")
	fs.Float64Var(&f.readRatio, "read-ratio", 0.5, "share of operations that are Gets, 0..1")
	fs.StringVar(&f.dist, "dist", "uniform", "key distribution: uniform or zipf")
	fs.Float64Var(&f.zipfS, "zipf-s", 1.1, "zipf exponent (> 1; larger is more skewed)")
	fs.BoolVar(&f.preload, "preload", true, "write every key once before measuring, so Gets hit")
	fs.BoolVar(&f.progress, "progress", false, "show the live progress line even when stderr is not a terminal")
	fs.BoolVar(&f.jsonOut, "json", false, "print the result as JSON")
	fs.BoolVar(&f.runtimeStats, "runtime-stats", false, "sample this process's heap and goroutines every second and report them")
	fs.StringVar(&f.token, "token", "", "bearer `token` to send (and to require, on the embedded cluster)")
	fs.BoolVar(&f.noBatch, "no-batch", false, "send every call alone (Config.DisableAutoBatch), to compare with the default, which batches concurrent calls")
	fs.durationVar(&f.timeout, "timeout", norikv.DefaultTimeout, "per-call timeout, retries included (a `duration`: 5s, 500ms; negative: none)")
	stale := addStaleFlags(fs) // bench_stale.go
	if err := fs.parse(args); err != nil {
		return err
	}
	level, err := stale.check(f.target)
	if err != nil {
		return err
	}
	proto, err := parseProtocol(f.protocol)
	if err != nil {
		return usageError{err.Error()}
	}
	dist, err := loadgen.ParseDist(f.dist)
	if err != nil {
		return usageError{strings.TrimPrefix(err.Error(), "loadgen: ")}
	}
	switch {
	case f.concurrency < 1:
		return usagef("--concurrency must be at least 1")
	case f.duration <= 0:
		return usagef("--duration must be positive")
	case f.valueSize < 1 || f.keys < 1:
		return usagef("--value-size and --keys must be at least 1")
	case f.readRatio < 0 || f.readRatio > 1:
		return usagef("--read-ratio must be in [0, 1]")
	case f.zipfS <= 1:
		return usagef("--zipf-s must be greater than 1")
	case f.shards < 0:
		return usagef("--shards must not be negative (0, the default: learn it from the cluster)")
	}
	stdout, stderr := o.Stdout, o.Stderr

	nodes, shards := splitAddrs(f.target), f.shards
	targetName := f.target
	names := map[string]string{} // the embedded cluster's node ids by address
	if len(nodes) == 0 {
		// Every SDK write carries an idempotency key and the server keeps
		// each for its TTL: at the default 10 minutes a long run at 10k
		// writes/s holds millions of entries (~200 B each). A minute is
		// far beyond any retry of a 5 s call and keeps the heap bounded.
		cl, err := server.Start(server.Config{Token: f.token, IdempotencyTTL: time.Minute, Faults: stale.faults()})
		if err != nil {
			return fmt.Errorf("starting the embedded cluster: %w", err)
		}
		defer cl.Close()
		if err := stale.checkSlowNode(cl); err != nil {
			return err
		}
		for _, id := range cl.NodeIDs() {
			names[cl.Addr(id)] = id
		}
		nodes, shards = cl.Addrs(), cl.Shards()
		targetName = fmt.Sprintf("embedded cluster (%d nodes, %d shards)", len(nodes), shards)
	}
	ccfg := norikv.Config{
		Nodes: nodes, TotalShards: shards, Protocol: proto, BearerToken: f.token, Timeout: f.timeout,
		MaxIdleConnsPerHost: max(64, f.concurrency), DisableAutoBatch: f.noBatch,
	}
	stale.configure(&ccfg, stderr)
	c, err := norikv.New(ccfg)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		return fmt.Errorf("connecting to %s: %w", targetName, err)
	}

	cfg := loadgen.Config{
		Concurrency: f.concurrency, Duration: f.duration, ValueSize: f.valueSize, Keys: f.keys,
		ReadRatio: f.readRatio, Dist: dist, ZipfS: f.zipfS, Preload: f.preload,
		SampleRuntime: f.runtimeStats,
	}
	showProgress := f.progress || isTerminal(stderr)
	if showProgress {
		cfg.Progress = func(p loadgen.Progress) {
			fmt.Fprintf(stderr, "\r%s\x1b[K", loadgen.ProgressLine(p, f.duration))
		}
	}
	res, err := loadgen.Run(ctx, sdkTarget{c: c, getOpts: []norikv.GetOption{norikv.WithConsistency(level)}}, cfg)
	if showProgress {
		fmt.Fprint(stderr, "\r\x1b[K")
	}
	if err != nil {
		return err
	}
	stats := c.Stats()
	interrupted := ctx.Err() != nil
	if f.jsonOut {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(benchReport{
			Target: targetName, Protocol: proto.String(), Batching: !f.noBatch, Interrupted: interrupted, Result: benchResultFrom(res),
			Connections: stats.Pool.ActiveConnections, Dialed: stats.Pool.Dialed,
			BudgetExhausted: stats.Requests.BudgetExhausted,
			Hedges:          benchHedges{stats.Hedges.Sent, stats.Hedges.Won, stats.Hedges.Refused},
			Replicas:        benchReplicas(stats, names),
		})
	}
	fmt.Fprintf(stdout, "target %s, protocol %s%s%s\n", targetName, proto, map[bool]string{true: ", batching off"}[f.noBatch], map[bool]string{true: " (interrupted)"}[interrupted])
	res.WriteText(stdout)
	fmt.Fprintf(stdout, "connections open %d (dialed %d), retries refused by budget %d\n",
		stats.Pool.ActiveConnections, stats.Pool.Dialed, stats.Requests.BudgetExhausted)
	var gets uint64
	if g := res.PerOp["get"]; g != nil {
		gets = g.Ops
	}
	writeStaleReport(stdout, stats, gets, names)
	return nil
}

// benchReport is --json's output: loadgen's result in the CLI's JSON
// convention (durations in milliseconds, lists never null; see printJSON).
type benchReport struct {
	Target          string       `json:"target"`
	Protocol        string       `json:"protocol"`
	Batching        bool         `json:"batching"`
	Interrupted     bool         `json:"interrupted"`
	Result          *benchResult `json:"result"`
	Connections     int          `json:"connections_open"`
	Dialed          uint64       `json:"connections_dialed"`
	BudgetExhausted uint64       `json:"retries_refused_by_budget"`
	Hedges          benchHedges  `json:"hedges"`
	// Replicas are the nodes stale reads went to (norikv.ReplicaStats).
	Replicas []benchReplica `json:"stale_reads"`
}

// benchHedges counts hedged stale_ok Gets (norikv.HedgeStats).
type benchHedges struct {
	Sent    uint64 `json:"sent"`
	Won     uint64 `json:"won"`
	Refused uint64 `json:"refused_by_budget"`
}

type benchResult struct {
	Config struct {
		Concurrency int     `json:"concurrency"`
		Duration    float64 `json:"duration_ms"`
		ValueSize   int     `json:"value_size"`
		Keys        int     `json:"keys"`
		ReadRatio   float64 `json:"read_ratio"`
		Dist        string  `json:"dist"`
	} `json:"config"`
	Elapsed     float64                  `json:"elapsed_ms"`
	Ops         uint64                   `json:"ops"`
	Errors      uint64                   `json:"errors"`
	OpsPerS     float64                  `json:"ops_per_s"`
	Latency     benchLatency             `json:"latency"`
	PerOp       map[string]benchOpResult `json:"per_op"`
	CPUPerOp    float64                  `json:"cpu_per_op_ms"`
	Retries     uint64                   `json:"retries"`
	Redirects   uint64                   `json:"redirects"`
	FirstErrors []string                 `json:"first_errors"`
	Runtime     []benchRuntime           `json:"runtime"`
}

type benchOpResult struct {
	Ops     uint64       `json:"ops"`
	Errors  uint64       `json:"errors"`
	Misses  uint64       `json:"misses"`
	OpsPerS float64      `json:"ops_per_s"`
	Latency benchLatency `json:"latency"`
}

type benchLatency struct {
	Count uint64  `json:"count"`
	Mean  float64 `json:"mean_ms"`
	Min   float64 `json:"min_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

type benchRuntime struct {
	Elapsed    float64 `json:"elapsed_ms"`
	HeapAlloc  uint64  `json:"heap_alloc_bytes"`
	HeapInuse  uint64  `json:"heap_inuse_bytes"`
	HeapLive   uint64  `json:"heap_live_bytes"`
	NumGC      uint32  `json:"num_gc"`
	Goroutines int     `json:"goroutines"`
}

func benchResultFrom(r *loadgen.Result) *benchResult {
	lat := func(s loadgen.Summary) benchLatency {
		return benchLatency{s.Count, millis(s.Mean), millis(s.Min), millis(s.P50), millis(s.P90), millis(s.P99), millis(s.P999), millis(s.Max)}
	}
	out := &benchResult{
		Elapsed: millis(r.Elapsed), Ops: r.Ops, Errors: r.Errors, OpsPerS: r.OpsPerS, Latency: lat(r.Latency),
		PerOp: map[string]benchOpResult{}, CPUPerOp: millis(r.CPUPerOp), Retries: r.Retries, Redirects: r.Redirects,
		FirstErrors: orEmpty(r.FirstErrors), Runtime: []benchRuntime{},
	}
	c := &out.Config
	c.Concurrency, c.Duration, c.ValueSize, c.Keys, c.ReadRatio, c.Dist = r.Config.Concurrency, r.Config.DurationS*1000, r.Config.ValueSize, r.Config.Keys, r.Config.ReadRatio, string(r.Config.Dist)
	for name, op := range r.PerOp {
		out.PerOp[name] = benchOpResult{op.Ops, op.Errors, op.Misses, op.OpsPerS, lat(op.Latency)}
	}
	for _, s := range r.Runtime {
		out.Runtime = append(out.Runtime, benchRuntime{millis(s.Elapsed), s.HeapAlloc, s.HeapInuse, s.HeapLive, s.NumGC, s.Goroutines})
	}
	return out
}

func splitAddrs(s string) []string {
	var out []string
	for a := range strings.SplitSeq(s, ",") {
		if a = strings.TrimSpace(a); a != "" {
			out = append(out, a)
		}
	}
	return out
}

// isTerminal reports whether w is a character device (a terminal), without
// a dependency: good enough to decide on a \r-updated status line.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
