// Command compare measures the norikv SDK (at its defaults, which batch
// concurrent calls, and with -unary, DisableAutoBatch) against the raw
// generated Connect client, a plain grpc-go client, all against one
// embedded cluster in this process, and go-redis against a local
// redis-server when one is installed; it prints throughput, p50, p99, CPU
// per operation and connections dialled per second for each client and
// concurrency, with the ratios.
//
// Runs are interleaved (every client once per round, rounds repeated) and
// the median of the rounds is reported, so a noisy machine skews all
// clients alike. Client and server share the CPU: ratios are meaningful,
// absolute figures only on an idle machine.
//
//	go -C bench run ./cmd/compare                       # the table
//	go -C bench run ./cmd/compare -steady 60s           # heap and goroutines under 64-way load
//	go -C bench run ./cmd/compare -cpuprofile cpu.out -clients norikv-grpc -conc 64
//	go -C bench run ./cmd/compare -multiget                 # MultiGet of 100 keys vs 100 Gets
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/norikv/norikv-go/bench/goredis"
	"github.com/norikv/norikv-go/bench/grpcgo"
	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/internal/loadgen"
	"github.com/norikv/norikv-go/internal/loadgen/targets"
	"github.com/norikv/norikv-go/server"
)

var allClients = []string{
	"norikv-grpc", "norikv-grpc-unary", "raw-grpc", "grpc-go",
	"norikv-connect", "norikv-connect-unary", "raw-connect",
	"norikv-grpcweb", "raw-grpcweb",
	"go-redis",
}

// defaultClients is the race of issue 19: the SDK batched and unary on
// both protocols, grpc-go and go-redis.
var defaultClients = []string{
	"norikv-grpc", "norikv-grpc-unary", "grpc-go",
	"norikv-connect", "norikv-connect-unary", "go-redis",
}

func main() {
	var (
		clients    = flag.String("clients", strings.Join(defaultClients, ","), "clients to run, of "+strings.Join(allClients, ","))
		concs      = flag.String("conc", "1,64,256,1024", "concurrencies")
		multiget   = flag.Bool("multiget", false, "instead of the table: time MultiGet of 100 keys against 100 sequential and 100 concurrent Gets")
		duration   = flag.Duration("duration", 2*time.Second, "measured time per run")
		rounds     = flag.Int("rounds", 3, "interleaved rounds (median reported)")
		valueSize  = flag.Int("value-size", 100, "value size in bytes")
		keys       = flag.Int("keys", 10_000, "key space")
		readRatio  = flag.Float64("read-ratio", 0.5, "share of Gets")
		nodes      = flag.Int("nodes", server.DefaultNodes, "embedded cluster nodes")
		idemTTL    = flag.Duration("idem-ttl", 0, "the embedded server's idempotency TTL (0: its default, 10m; every SDK write leaves an entry that long)")
		sdkTimeout = flag.Duration("sdk-timeout", 0, "the SDK's Config.Timeout (0: its default, 5s; negative: none, like the raw and grpc-go clients)")
		steady     = flag.Duration("steady", 0, "instead of the table: run norikv-grpc at -steady-conc for this long and report heap and goroutines")
		steadyConc = flag.Int("steady-conc", 64, "concurrency of -steady")
		steadyProt = flag.String("steady-protocol", "grpc", "protocol of -steady")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the measured runs (client and server)")
		memprofile = flag.String("memprofile", "", "write an allocation profile at exit")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, opts{
		clients: strings.Split(*clients, ","), concs: parseInts(*concs), duration: *duration, rounds: *rounds,
		cfg:   loadgen.Config{ValueSize: *valueSize, Keys: *keys, ReadRatio: *readRatio},
		nodes: *nodes, sdkTimeout: *sdkTimeout, idemTTL: *idemTTL,
		steady: *steady, steadyConc: *steadyConc, steadyProt: *steadyProt,
		cpuprofile: *cpuprofile, memprofile: *memprofile, multiget: *multiget,
	}); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

type opts struct {
	clients                []string
	concs                  []int
	duration               time.Duration
	rounds                 int
	cfg                    loadgen.Config
	nodes                  int
	sdkTimeout             time.Duration
	idemTTL                time.Duration
	steady                 time.Duration
	steadyConc             int
	steadyProt             string
	cpuprofile, memprofile string
	multiget               bool
}

func parseInts(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "compare: bad concurrency %q\n", f)
			os.Exit(2)
		}
		out = append(out, n)
	}
	return out
}

type closer interface{ Close() }

type fnCloser func()

func (f fnCloser) Close() { f() }

// errSkip marks a client that cannot run here (go-redis without
// redis-server): its row is left out with a message.
type errSkip struct{ error }

// serverCPU is implemented by targets whose server runs in another
// process (redis-server): its CPU is added to the process's.
type serverCPU interface{ ServerCPU() time.Duration }

// dialCounter is implemented by targets that count the connections they
// open (the SDK's Stats).
type dialCounter interface{ Dials() uint64 }

func (s sdkTarget) Dials() uint64 { return s.c.Stats().Pool.Dialed }

// newTarget builds one client by name.
func newTarget(name string, cl *server.Cluster, tab *targets.Table, sdkTimeout time.Duration) (loadgen.Target, closer, error) {
	if name == "go-redis" {
		t, err := goredis.Start(64)
		if errors.Is(err, goredis.ErrNoServer) {
			return nil, nil, errSkip{err}
		}
		if err != nil {
			return nil, nil, err
		}
		return t, t, nil
	}
	kind, proto, _ := strings.Cut(name, "-")
	proto, unary := strings.CutSuffix(proto, "-unary")
	switch kind {
	case "norikv":
		p, err := parseProtocol(proto)
		if err != nil {
			return nil, nil, err
		}
		c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), Protocol: p, Timeout: sdkTimeout, DisableAutoBatch: unary})
		if err != nil {
			return nil, nil, err
		}
		if err := c.Connect(context.Background()); err != nil {
			c.Close()
			return nil, nil, err
		}
		return sdkTarget{c}, fnCloser(func() { c.Close() }), nil
	case "raw":
		if unary {
			break
		}
		r, err := targets.NewRaw(tab, proto)
		if err != nil {
			return nil, nil, err
		}
		return r, r, nil
	case "grpc":
		if proto == "go" {
			g, err := grpcgo.New(tab)
			return g, g, err
		}
	}
	return nil, nil, fmt.Errorf("unknown client %q (have %s)", name, strings.Join(allClients, ", "))
}

func run(ctx context.Context, w io.Writer, o opts) error {
	cl, err := server.Start(server.Config{Nodes: o.nodes, IdempotencyTTL: o.idemTTL})
	if err != nil {
		return err
	}
	defer cl.Close()
	tab, err := targets.NewTable(cl.View())
	if err != nil {
		return err
	}
	if o.steady > 0 {
		o.clients = []string{"norikv-" + o.steadyProt}
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	if o.memprofile != "" {
		runtime.MemProfileRate = 4096
		defer func() {
			if f, err := os.Create(o.memprofile); err == nil {
				_ = pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}

	if o.multiget {
		return multiGet(ctx, w, cl, o)
	}
	tgts := map[string]loadgen.Target{}
	var kept []string
	for _, name := range o.clients {
		t, c, err := newTarget(name, cl, tab, o.sdkTimeout)
		var skip errSkip
		if errors.As(err, &skip) {
			fmt.Fprintf(w, "%s: skipped: %v\n", name, skip.error)
			continue
		}
		if err != nil {
			return err
		}
		defer c.Close()
		tgts[name] = t
		kept = append(kept, name)
	}
	o.clients = kept

	// Preload every key once, then warm every client up (connections,
	// pools, JIT-free but cache- and allocator-warm).
	base := o.cfg
	base.Preload = false
	pre := base
	pre.Preload, pre.Concurrency, pre.Duration = true, 16, 200*time.Millisecond
	if _, err := loadgen.Run(ctx, tgts[o.clients[0]], pre); err != nil {
		return fmt.Errorf("preload: %w", err)
	}
	maxConc := slices.Max(append([]int{o.steadyConc}, o.concs...))
	for _, name := range o.clients {
		wu := base
		wu.Concurrency, wu.Duration = maxConc, 300*time.Millisecond
		if _, err := loadgen.Run(ctx, tgts[name], wu); err != nil {
			return err
		}
	}

	if o.steady > 0 {
		return steadyState(ctx, w, tgts[o.clients[0]], base, o)
	}

	sdkTO := "default 5s"
	if o.sdkTimeout != 0 {
		sdkTO = o.sdkTimeout.String()
	}
	fmt.Fprintf(w, "embedded cluster: %d nodes, %d shards; %d-byte values, %d keys, read ratio %.2f; %v per run, median of %d interleaved rounds; GOMAXPROCS %d; SDK timeout %s\n\n",
		o.nodes, cl.Shards(), base.ValueSize, base.Keys, base.ReadRatio, o.duration, o.rounds, runtime.GOMAXPROCS(0), sdkTO)
	results := map[key][]*loadgen.Result{}
	dials := map[key][]float64{}
	for r := range o.rounds {
		for _, c := range o.concs {
			for _, name := range rotate(o.clients, r) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				cfg := base
				cfg.Concurrency, cfg.Duration = c, o.duration
				runtime.GC()
				var cpu0 time.Duration
				var dials0 uint64
				sc, hasCPU := tgts[name].(serverCPU)
				if hasCPU {
					cpu0 = sc.ServerCPU()
				}
				dc, hasDials := tgts[name].(dialCounter)
				if hasDials {
					dials0 = dc.Dials()
				}
				res, err := loadgen.Run(ctx, tgts[name], cfg)
				if err != nil {
					return err
				}
				if hasCPU && res.Ops > 0 {
					res.CPUPerOp += (sc.ServerCPU() - cpu0) / time.Duration(res.Ops)
				}
				if hasDials {
					dials[key{name, c}] = append(dials[key{name, c}], float64(dc.Dials()-dials0)/res.Elapsed.Seconds())
				}
				if res.Errors > 0 {
					fmt.Fprintf(os.Stderr, "%s c=%d: %d errors, e.g. %q\n", name, c, res.Errors, res.FirstErrors)
				}
				fmt.Fprintf(os.Stderr, "round %d c=%-3d %-15s %8.0f ops/s  cpu/op %s\n", r+1, c, name, res.OpsPerS, loadgen.Dur(res.CPUPerOp))
				results[key{name, c}] = append(results[key{name, c}], res)
			}
		}
	}
	printTable(w, o, results, dials)
	return nil
}

type key struct {
	client string
	conc   int
}

// rotate changes which client goes first in each round.
func rotate(s []string, r int) []string {
	r %= len(s)
	return append(slices.Clone(s[r:]), s[:r]...)
}

type med struct{ ops, p50, p99, cpu float64 }

func median(rs []*loadgen.Result) med {
	pick := func(f func(*loadgen.Result) float64) float64 {
		v := make([]float64, len(rs))
		for i, r := range rs {
			v[i] = f(r)
		}
		slices.Sort(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	return med{
		ops: pick(func(r *loadgen.Result) float64 { return r.OpsPerS }),
		p50: pick(func(r *loadgen.Result) float64 { return float64(r.Latency.P50) }),
		p99: pick(func(r *loadgen.Result) float64 { return float64(r.Latency.P99) }),
		cpu: pick(func(r *loadgen.Result) float64 { return float64(r.CPUPerOp) }),
	}
}

func printTable(w io.Writer, o opts, results map[key][]*loadgen.Result, dials map[key][]float64) {
	fmt.Fprintln(w, "ops/s and latency are wall-clock (disturbed by whatever else runs); cpu/op is CPU time per")
	fmt.Fprintln(w, "operation of this process (client and embedded server) plus, for go-redis, redis-server's.")
	fmt.Fprintln(w, "dials/s: TCP connections the SDK opened per second of the run. Ratios are ours/theirs: higher")
	fmt.Fprintln(w, "is better for ops, lower for cpu. \"vs unary\" compares the default (batching) SDK with DisableAutoBatch.")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "conc\tclient\tops/s\tp50\tp99\tcpu/op\tdials/s\tops vs unary\tops vs grpc-go\tops vs go-redis\tcpu vs go-redis\t")
	ratio := func(a, b float64) string {
		if b == 0 {
			return ""
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	for _, c := range o.concs {
		for _, name := range o.clients {
			m := median(results[key{name, c}])
			var vsUnary, vsGRPC, vsRedis, cpuRedis, dialsPerS string
			if strings.HasPrefix(name, "norikv-") && !strings.HasSuffix(name, "-unary") {
				if rs := results[key{name + "-unary", c}]; rs != nil {
					vsUnary = ratio(m.ops, median(rs).ops)
				}
			}
			if rs := results[key{"grpc-go", c}]; rs != nil && name != "grpc-go" {
				vsGRPC = ratio(m.ops, median(rs).ops)
			}
			if rs := results[key{"go-redis", c}]; rs != nil && name != "go-redis" {
				r := median(rs)
				vsRedis, cpuRedis = ratio(m.ops, r.ops), ratio(m.cpu, r.cpu)
			}
			if d := dials[key{name, c}]; d != nil {
				slices.Sort(d)
				dialsPerS = fmt.Sprintf("%.1f", d[len(d)/2])
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c, name, m.ops,
				loadgen.Dur(time.Duration(m.p50)), loadgen.Dur(time.Duration(m.p99)), loadgen.Dur(time.Duration(m.cpu)),
				dialsPerS, vsUnary, vsGRPC, vsRedis, cpuRedis)
		}
		fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t\t\t")
	}
	tw.Flush()
}

// multiGet times reading 100 stored keys three ways with the SDK at its
// defaults: one MultiGet, 100 Gets one after another, 100 Gets at once.
func multiGet(ctx context.Context, w io.Writer, cl *server.Cluster, o opts) error {
	for _, proto := range []string{"grpc", "connect"} {
		p, _ := parseProtocol(proto)
		c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), Protocol: p})
		if err != nil {
			return err
		}
		defer c.Close()
		keys := make([]string, 100)
		kvs := make([]norikv.KeyValue, 100)
		for i := range keys {
			keys[i] = fmt.Sprintf("mg-%d", i)
			kvs[i] = norikv.KeyValue{Key: keys[i], Value: make([]byte, o.cfg.ValueSize)}
		}
		if _, err := c.MultiPut(ctx, kvs); err != nil {
			return err
		}
		ways := []struct {
			name string
			f    func() error
		}{
			{"MultiGet(100 keys)", func() error { _, err := c.MultiGet(ctx, keys); return err }},
			{"100 sequential Gets", func() error {
				for _, k := range keys {
					if _, err := c.Get(ctx, k); err != nil {
						return err
					}
				}
				return nil
			}},
			{"100 concurrent Gets", func() error {
				errs := make(chan error, len(keys))
				for _, k := range keys {
					go func() { _, err := c.Get(ctx, k); errs <- err }()
				}
				var first error
				for range keys {
					if err := <-errs; err != nil && first == nil {
						first = err
					}
				}
				return first
			}},
		}
		times := make([][]time.Duration, len(ways))
		for r := range 5 * o.rounds {
			for i := range ways {
				way := ways[(i+r)%len(ways)]
				idx := (i + r) % len(ways)
				const reps = 20
				start := time.Now()
				for range reps {
					if err := way.f(); err != nil {
						return fmt.Errorf("%s: %w", way.name, err)
					}
				}
				times[idx] = append(times[idx], time.Since(start)/reps)
			}
		}
		fmt.Fprintf(w, "%s, 3 nodes, %d-byte values (median of %d interleaved runs of 20):\n", proto, o.cfg.ValueSize, 5*o.rounds)
		var mg time.Duration
		for i, way := range ways {
			slices.Sort(times[i])
			d := times[i][len(times[i])/2]
			if i == 0 {
				mg = d
				fmt.Fprintf(w, "  %-22s %10s\n", way.name, loadgen.Dur(d))
				continue
			}
			fmt.Fprintf(w, "  %-22s %10s   MultiGet is %.1fx faster\n", way.name, loadgen.Dur(d), float64(d)/float64(mg))
		}
	}
	return nil
}

// steadyState runs one client for o.steady at o.steadyConc, sampling the
// heap and goroutines every second, and prints the samples and a verdict.
func steadyState(ctx context.Context, w io.Writer, t loadgen.Target, base loadgen.Config, o opts) error {
	cfg := base
	cfg.Concurrency, cfg.Duration, cfg.SampleRuntime = o.steadyConc, o.steady, true
	cfg.ProgressEvery = time.Second
	res, err := loadgen.Run(ctx, t, cfg)
	if err != nil {
		return err
	}
	res.WriteText(w)
	fmt.Fprintln(w, "\n elapsed   live heap   heap alloc  heap in use  goroutines  GCs")
	for i, s := range res.Runtime {
		if i%5 == 0 || i == len(res.Runtime)-1 {
			fmt.Fprintf(w, "%7.0fs  %10s  %10s  %11s  %10d  %d\n", s.Elapsed.Seconds(),
				loadgen.MiB(s.HeapLive), loadgen.MiB(s.HeapAlloc), loadgen.MiB(s.HeapInuse), s.Goroutines, s.NumGC)
		}
	}
	return nil
}
