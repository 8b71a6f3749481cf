// Command compare measures the norikv SDK against the raw generated Connect
// client and a plain grpc-go client, all against one embedded cluster in
// this process, and prints throughput, p50 and p99 per client and
// concurrency with the ratios.
//
// Runs are interleaved (every client once per round, rounds repeated) and
// the median of the rounds is reported, so a noisy machine skews all
// clients alike. Client and server share the CPU: ratios are meaningful,
// absolute figures only on an idle machine.
//
//	go -C bench run ./cmd/compare                       # the table
//	go -C bench run ./cmd/compare -steady 60s           # heap and goroutines under 64-way load
//	go -C bench run ./cmd/compare -cpuprofile cpu.out -clients norikv-grpc -conc 64
package main

import (
	"context"
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

	"github.com/norikv/norikv-go/bench/grpcgo"
	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/internal/loadgen"
	"github.com/norikv/norikv-go/internal/loadgen/targets"
	"github.com/norikv/norikv-go/server"
)

var allClients = []string{
	"norikv-grpc", "raw-grpc", "grpc-go",
	"norikv-connect", "raw-connect",
	"norikv-grpcweb", "raw-grpcweb",
}

func main() {
	var (
		clients    = flag.String("clients", strings.Join(allClients, ","), "clients to run")
		concs      = flag.String("conc", "1,16,64", "concurrencies")
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
		cpuprofile: *cpuprofile, memprofile: *memprofile,
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

// newTarget builds one client by name.
func newTarget(name string, cl *server.Cluster, tab *targets.Table, sdkTimeout time.Duration) (loadgen.Target, closer, error) {
	kind, proto, _ := strings.Cut(name, "-")
	switch kind {
	case "norikv":
		p, err := parseProtocol(proto)
		if err != nil {
			return nil, nil, err
		}
		c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), Protocol: p, Timeout: sdkTimeout})
		if err != nil {
			return nil, nil, err
		}
		if err := c.Connect(context.Background()); err != nil {
			c.Close()
			return nil, nil, err
		}
		return sdkTarget{c}, fnCloser(func() { c.Close() }), nil
	case "raw":
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
	tgts := map[string]loadgen.Target{}
	for _, name := range o.clients {
		t, c, err := newTarget(name, cl, tab, o.sdkTimeout)
		if err != nil {
			return err
		}
		defer c.Close()
		tgts[name] = t
	}

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
	for r := range o.rounds {
		for _, c := range o.concs {
			for _, name := range rotate(o.clients, r) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				cfg := base
				cfg.Concurrency, cfg.Duration = c, o.duration
				runtime.GC()
				res, err := loadgen.Run(ctx, tgts[name], cfg)
				if err != nil {
					return err
				}
				if res.Errors > 0 {
					fmt.Fprintf(os.Stderr, "%s c=%d: %d errors, e.g. %q\n", name, c, res.Errors, res.FirstErrors)
				}
				fmt.Fprintf(os.Stderr, "round %d c=%-3d %-15s %8.0f ops/s  cpu/op %s\n", r+1, c, name, res.OpsPerS, loadgen.Dur(res.CPUPerOp))
				results[key{name, c}] = append(results[key{name, c}], res)
			}
		}
	}
	printTable(w, o, results)
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

func printTable(w io.Writer, o opts, results map[key][]*loadgen.Result) {
	fmt.Fprintln(w, "ops/s and latency are wall-clock (disturbed by whatever else runs); cpu/op is this process's CPU")
	fmt.Fprintln(w, "time (client and server) per operation, which other processes disturb far less. Ratios: ops/s")
	fmt.Fprintln(w, "as ours/theirs (higher is better), cpu/op and p99 as ours/theirs (lower is better).")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "conc\tclient\tops/s\tp50\tp99\tcpu/op\tops vs raw\tcpu vs raw\tops vs grpc-go\tcpu vs grpc-go\tp99 vs grpc-go\t")
	ratio := func(a, b float64) string {
		if b == 0 {
			return ""
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	for _, c := range o.concs {
		for _, name := range o.clients {
			m := median(results[key{name, c}])
			var vsRaw, cpuRaw, vsGRPC, cpuGRPC, p99GRPC string
			if p, ok := strings.CutPrefix(name, "norikv-"); ok {
				if rs := results[key{"raw-" + p, c}]; rs != nil {
					r := median(rs)
					vsRaw, cpuRaw = ratio(m.ops, r.ops), ratio(m.cpu, r.cpu)
				}
			}
			if name != "grpc-go" {
				if rs := results[key{"grpc-go", c}]; rs != nil {
					g := median(rs)
					vsGRPC, cpuGRPC, p99GRPC = ratio(m.ops, g.ops), ratio(m.cpu, g.cpu), ratio(m.p99, g.p99)
				}
			}
			fmt.Fprintf(tw, "%d\t%s\t%.0f\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", c, name, m.ops,
				loadgen.Dur(time.Duration(m.p50)), loadgen.Dur(time.Duration(m.p99)), loadgen.Dur(time.Duration(m.cpu)),
				vsRaw, cpuRaw, vsGRPC, cpuGRPC, p99GRPC)
		}
		fmt.Fprintln(tw, "\t\t\t\t\t\t\t\t\t\t\t")
	}
	tw.Flush()
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
