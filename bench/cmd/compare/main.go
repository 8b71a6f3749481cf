// Command compare measures the norikv SDK (at its defaults, which batch
// concurrent calls, and with -unary, DisableAutoBatch) against the raw
// generated Connect client and a plain grpc-go client, all against one
// NoriKV cluster (embedded in this process, or in a process of its own
// with -server-process), go-redis and rueidis against a local
// redis-server when one is installed, and a 100-byte TCP echo (the floor
// of a round trip); it prints throughput, p50, p99, CPU per operation and
// connections dialled per second for each client and concurrency, with
// the ratios.
//
// Runs are interleaved (every client once per round, rounds repeated) and
// the median of the rounds is reported, so a noisy machine skews all
// clients alike. Client and server share the CPU: ratios are meaningful,
// absolute figures only on an idle machine.
//
//	go -C bench run ./cmd/compare                       # the table
//	go -C bench run ./cmd/compare -server-process       # the same, the cluster in its own process
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

	"github.com/norikv/norikv-go/bench/grpcgo"
	"github.com/norikv/norikv-go/bench/redisbench"
	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/internal/loadgen"
	"github.com/norikv/norikv-go/internal/loadgen/targets"
	"github.com/norikv/norikv-go/server"
)

var allClients = []string{
	"norikv-grpc", "norikv-grpc-unary", "raw-grpc", "grpc-go",
	"norikv-connect", "norikv-connect-unary", "raw-connect",
	"norikv-grpcweb", "raw-grpcweb",
	"go-redis", "rueidis", "tcp-echo",
}

// defaultClients is the race of issues 19 and 24: the SDK batched and
// unary on both protocols (unary gRPC is what a production server, gRPC
// only and without Kv.Batch, gets), the raw Connect gRPC client, grpc-go,
// both Redis clients and the TCP echo floor.
var defaultClients = []string{
	"norikv-grpc", "norikv-grpc-unary", "raw-grpc", "grpc-go",
	"norikv-connect", "norikv-connect-unary", "go-redis", "rueidis", "tcp-echo",
}

func main() {
	if os.Getenv(childEnv) != "" {
		if err := childServe(); err != nil {
			fmt.Fprintln(os.Stderr, "compare (server process):", err)
			os.Exit(1)
		}
		return
	}
	var (
		clients    = flag.String("clients", strings.Join(defaultClients, ","), "clients to run, of "+strings.Join(allClients, ","))
		concs      = flag.String("conc", "1,64,256,1024", "concurrencies")
		multiget   = flag.Bool("multiget", false, "instead of the table: time MultiGet of 100 keys against 100 sequential and 100 concurrent Gets")
		duration   = flag.Duration("duration", 2*time.Second, "measured time per run")
		rounds     = flag.Int("rounds", 3, "interleaved rounds (median reported)")
		valueSize  = flag.Int("value-size", 100, "value size in bytes")
		keys       = flag.Int("keys", 10_000, "key space")
		readRatio  = flag.Float64("read-ratio", 0.5, "share of Gets")
		nodes      = flag.Int("nodes", server.DefaultNodes, "cluster nodes")
		serverProc = flag.Bool("server-process", false, "run the NoriKV cluster (and the TCP echo server) in a process of its own, as redis-server runs; cpu/op adds its CPU")
		idemTTL    = flag.Duration("idem-ttl", 0, "the embedded server's idempotency TTL (0: its default, 10m; every SDK write leaves an entry that long)")
		sdkTimeout = flag.Duration("sdk-timeout", 0, "the SDK's Config.Timeout (0: its default, 5s; negative: none, like the raw and grpc-go clients)")
		steady     = flag.Duration("steady", 0, "instead of the table: run norikv-grpc at -steady-conc for this long and report heap and goroutines")
		steadyConc = flag.Int("steady-conc", 64, "concurrency of -steady")
		steadyProt = flag.String("steady-protocol", "grpc", "protocol of -steady")
		cpuprofile = flag.String("cpuprofile", "", "write a CPU profile of the measured runs (client and server; with -server-process the server's goes to FILE.server)")
		memprofile = flag.String("memprofile", "", "write an allocation profile at exit")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, opts{
		clients: strings.Split(*clients, ","), concs: parseInts(*concs), duration: *duration, rounds: *rounds,
		cfg:   loadgen.Config{ValueSize: *valueSize, Keys: *keys, ReadRatio: *readRatio},
		nodes: *nodes, serverProcess: *serverProc, sdkTimeout: *sdkTimeout, idemTTL: *idemTTL,
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
	serverProcess          bool
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
	for f := range strings.SplitSeq(s, ",") {
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

// errSkip marks a client that cannot run here (go-redis and rueidis
// without redis-server): its row is left out with a message.
type errSkip struct{ error }

// serverCPU is implemented by servers that run in another process
// (redis-server, the cluster with -server-process): their CPU is added to
// the process's.
type serverCPU interface{ ServerCPU() time.Duration }

// dialCounter is implemented by targets that count the connections they
// open (the SDK's Stats).
type dialCounter interface{ Dials() uint64 }

func (s sdkTarget) Dials() uint64 { return s.c.Stats().Pool.Dialed }

// newTarget builds one client by name.
func newTarget(name string, cl cluster, tab *targets.Table, echoAddr string, o opts) (loadgen.Target, closer, error) {
	switch name {
	case "go-redis", "rueidis":
		var t interface {
			loadgen.Target
			closer
		}
		var err error
		if name == "go-redis" {
			t, err = redisbench.StartGoRedis(64)
		} else {
			t, err = redisbench.StartRueidis()
		}
		if errors.Is(err, redisbench.ErrNoServer) {
			return nil, nil, errSkip{err}
		}
		if err != nil {
			return nil, nil, err
		}
		return t, t, nil
	case "tcp-echo":
		e := &echoTarget{addr: echoAddr, size: o.cfg.ValueSize}
		return e, e, nil
	}
	kind, proto, _ := strings.Cut(name, "-")
	proto, unary := strings.CutSuffix(proto, "-unary")
	switch kind {
	case "norikv":
		p, err := parseProtocol(proto)
		if err != nil {
			return nil, nil, err
		}
		c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), Protocol: p, Timeout: o.sdkTimeout, DisableAutoBatch: unary})
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
	var cl cluster
	var echoAddr string
	if o.serverProcess {
		var serverProfile string
		if o.cpuprofile != "" {
			serverProfile = o.cpuprofile + ".server"
		}
		r, err := startRemote(o.nodes, o.idemTTL, serverProfile)
		if err != nil {
			return err
		}
		cl, echoAddr = r, r.h.Echo
	} else {
		c, err := server.Start(server.Config{Nodes: o.nodes, IdempotencyTTL: o.idemTTL})
		if err != nil {
			return err
		}
		echo, err := startEcho()
		if err != nil {
			c.Close()
			return err
		}
		defer echo.Close()
		cl, echoAddr = c, echo.Addr().String()
	}
	defer cl.Close()
	remote, _ := cl.(serverCPU)
	tab, err := targets.NewTable(cl.View())
	if err != nil {
		return err
	}
	if o.steady > 0 {
		o.clients = []string{"norikv-" + o.steadyProt}
	}
	stopProfile, err := cpuProfile(o.cpuprofile)
	if err != nil {
		return err
	}
	defer stopProfile()
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
		t, c, err := newTarget(name, cl, tab, echoAddr, o)
		if skip, ok := errors.AsType[errSkip](err); ok {
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

	// Preload every key once into each store (the NoriKV cluster through
	// its first client, each redis-server), so Gets hit everywhere; then
	// warm every client up (connections, pools, cache- and
	// allocator-warm).
	base := o.cfg
	base.Preload = false
	pre := base
	pre.Preload, pre.Concurrency, pre.Duration = true, 16, 200*time.Millisecond
	clusterLoaded := false
	for _, name := range o.clients {
		_, ownStore := tgts[name].(serverCPU) // go-redis, rueidis
		if name == "tcp-echo" || !ownStore && clusterLoaded {
			continue
		}
		clusterLoaded = clusterLoaded || !ownStore
		if _, err := loadgen.Run(ctx, tgts[name], pre); err != nil {
			return fmt.Errorf("preload (%s): %w", name, err)
		}
	}
	maxConc := slices.Max(append([]int{o.steadyConc}, o.concs...))
	for _, name := range o.clients {
		wu := base
		wu.Concurrency, wu.Duration = maxConc, 300*time.Millisecond
		if name == "tcp-echo" {
			wu.Concurrency = 1
		}
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
	where := "embedded cluster"
	if o.serverProcess {
		where = "cluster in its own process"
	}
	fmt.Fprintf(w, "%s: %d nodes, %d shards; %d-byte values, %d keys, read ratio %.2f; %v per run, median of %d interleaved rounds; GOMAXPROCS %d; SDK timeout %s\n\n",
		where, o.nodes, cl.Shards(), base.ValueSize, base.Keys, base.ReadRatio, o.duration, o.rounds, runtime.GOMAXPROCS(0), sdkTO)
	results := map[key][]*loadgen.Result{}
	dials := map[key][]float64{}
	for r := range o.rounds {
		for _, c := range o.concs {
			for _, name := range rotate(o.clients, r) {
				if ctx.Err() != nil {
					return ctx.Err()
				}
				if name == "tcp-echo" && c != 1 {
					continue // the floor of one round trip: c = 1 only
				}
				cfg := base
				cfg.Concurrency, cfg.Duration = c, o.duration
				runtime.GC()
				var cpu0 time.Duration
				var dials0 uint64
				sc, hasCPU := tgts[name].(serverCPU)
				if !hasCPU && remote != nil {
					sc, hasCPU = remote, true
				}
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
	fmt.Fprintln(w, "operation of this process (client and, unless -server-process, the cluster) plus that of the")
	fmt.Fprintln(w, "server's own process (redis-server; the cluster with -server-process).")
	fmt.Fprintln(w, "dials/s: TCP connections the SDK opened per second of the run. Ratios are ours/theirs: higher")
	fmt.Fprintln(w, "is better for ops, lower for cpu and p50. \"vs unary\" compares the default (batching) SDK with")
	fmt.Fprintln(w, "DisableAutoBatch; \"p50 vs echo\" divides by tcp-echo's p50 (c = 1 only).")
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	cols := []string{"conc", "client", "ops/s", "p50", "p99", "cpu/op", "dials/s", "ops vs unary",
		"ops vs grpc-go", "cpu vs grpc-go", "ops vs go-redis", "ops vs rueidis", "cpu vs go-redis", "p50 vs echo"}
	fmt.Fprintln(tw, strings.Join(cols, "\t")+"\t")
	ratio := func(a, b float64) string {
		if b == 0 {
			return ""
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	// against returns the ratios of m to other's median at c, in the
	// fields picked; "" where other did not run.
	against := func(name, other string, c int, m med, fields ...func(med) float64) []string {
		out := make([]string, len(fields))
		if rs := results[key{other, c}]; rs != nil && name != other {
			om := median(rs)
			for i, f := range fields {
				out[i] = ratio(f(m), f(om))
			}
		}
		return out
	}
	ops := func(m med) float64 { return m.ops }
	cpu := func(m med) float64 { return m.cpu }
	p50 := func(m med) float64 { return m.p50 }
	for _, c := range o.concs {
		for _, name := range o.clients {
			rs := results[key{name, c}]
			if rs == nil {
				continue
			}
			m := median(rs)
			var vsUnary, dialsPerS string
			if strings.HasPrefix(name, "norikv-") && !strings.HasSuffix(name, "-unary") {
				vsUnary = against(name, name+"-unary", c, m, ops)[0]
			}
			if d := dials[key{name, c}]; d != nil {
				slices.Sort(d)
				dialsPerS = fmt.Sprintf("%.1f", d[len(d)/2])
			}
			redis := against(name, "go-redis", c, m, ops, cpu)
			row := slices.Concat(
				[]string{strconv.Itoa(c), name, fmt.Sprintf("%.0f", m.ops),
					loadgen.Dur(time.Duration(m.p50)), loadgen.Dur(time.Duration(m.p99)), loadgen.Dur(time.Duration(m.cpu)),
					dialsPerS, vsUnary},
				against(name, "grpc-go", c, m, ops, cpu),
				[]string{redis[0], against(name, "rueidis", c, m, ops)[0], redis[1]},
				against(name, "tcp-echo", c, m, p50))
			fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
		}
		fmt.Fprintln(tw, strings.Repeat("\t", len(cols)))
	}
	tw.Flush()
}

// multiGet times reading 100 stored keys three ways with the SDK at its
// defaults: one MultiGet, 100 Gets one after another, 100 Gets at once.
func multiGet(ctx context.Context, w io.Writer, cl cluster, o opts) error {
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
