package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/server"
)

// bench's stale-read settings: the Gets' consistency, the replica choice
// and hedging (norikv.StaleReadConfig), and, to see them work, a slow node
// in the embedded cluster.
//
// --slow-node is a demonstration, not a test fault: it makes one node of
// the cluster bench itself starts answer every call late, as a node with
// a stalled disk or a noisy neighbour would, so a user can watch stale
// reads avoid it and hedge around it. It exists only here, on bench's own
// in-process cluster (`norikv serve` has no fault flags: a cluster others
// connect to is not a place for injected faults).
type staleFlags struct {
	consistency string
	replicas    string
	hedge       bool
	hedgeDelay  time.Duration
	slowNode    string
	trace       bool
}

func addStaleFlags(fs *flagSet) *staleFlags {
	f := &staleFlags{}
	fs.StringVar(&f.consistency, "consistency", "lease", "the Gets' consistency: lease, linearizable or stale_ok (stale_ok reads go to the fastest replicas, and are hedged)")
	fs.StringVar(&f.replicas, "replicas", "latency", "how stale_ok reads choose a replica: latency (the fastest, by the client's estimate) or round-robin")
	fs.BoolVar(&f.hedge, "hedge", true, "hedge stale_ok Gets: one still waiting after the hedge delay is sent to a second replica (--hedge=false: off)")
	fs.durationVar(&f.hedgeDelay, "hedge-delay", 0, "a fixed hedge `delay` (0: the tracked p99 of recent stale reads)")
	fs.StringVar(&f.slowNode, "slow-node", "", "embedded cluster only, a demonstration: node `id=delay` (e.g. n2=20ms) answers every call that much late")
	fs.BoolVar(&f.trace, "trace", false, "print the first hedged calls with their attempts to stderr")
	return f
}

// check validates the flags; with a --target, there is no cluster of
// bench's own to slow down.
func (f *staleFlags) check(target string) (norikv.Consistency, error) {
	level, err := parseConsistency(f.consistency)
	if err != nil {
		return 0, err
	}
	switch {
	case f.replicas != "latency" && f.replicas != "round-robin":
		return 0, usagef("--replicas %q: want latency or round-robin", f.replicas)
	case f.hedgeDelay < 0 || f.hedgeDelay > 0 && f.hedgeDelay < time.Millisecond:
		return 0, usagef("--hedge-delay must be 0 or at least 1ms")
	case f.slowNode != "" && target != "":
		return 0, usagef("--slow-node slows a node of the embedded cluster; it cannot with --target")
	}
	if _, _, err := f.slow(); err != nil {
		return 0, err
	}
	return level, nil
}

// slow parses --slow-node: the node id and its delay ("" if none).
func (f *staleFlags) slow() (string, time.Duration, error) {
	if f.slowNode == "" {
		return "", 0, nil
	}
	id, d, ok := strings.Cut(f.slowNode, "=")
	delay, err := time.ParseDuration(d)
	if !ok || id == "" || err != nil || delay <= 0 {
		return "", 0, usagef("--slow-node %q: want id=delay, e.g. n2=20ms", f.slowNode)
	}
	return id, delay, nil
}

// faults is the embedded cluster's fault hook for --slow-node, nil
// without it: the server's one slow-node mechanism (server.DelayCalls,
// which the console's slow-node control uses too). It checks the node id
// against the cluster once started (checkSlowNode).
func (f *staleFlags) faults() server.FaultHook {
	id, delay, _ := f.slow()
	if id == "" {
		return nil
	}
	return server.DelayCalls(func(node, _ string) time.Duration {
		if node == id {
			return delay
		}
		return 0
	}, nil)
}

// checkSlowNode fails if --slow-node names no node of c.
func (f *staleFlags) checkSlowNode(c *server.Cluster) error {
	id, _, _ := f.slow()
	if id == "" || c.Addr(id) != "" {
		return nil
	}
	return usagef("--slow-node: no node %q (the cluster has %s)", id, strings.Join(c.NodeIDs(), ", "))
}

// configure sets the client's stale-read settings and, with --trace, an
// observer printing hedged calls.
func (f *staleFlags) configure(cfg *norikv.Config, stderr io.Writer) {
	cfg.StaleReads = norikv.StaleReadConfig{RoundRobin: f.replicas == "round-robin", DisableHedging: !f.hedge, HedgeDelay: f.hedgeDelay}
	if f.trace {
		h := &hedgeTrace{t: newTraceObserver(stderr)}
		h.left.Store(10)
		cfg.Observer = h
	}
}

// hedgeTrace is bench's --trace: the trace of the first hedged calls
// (at most left of them), not of every call.
type hedgeTrace struct {
	norikv.BaseObserver
	t    *traceObserver
	left atomic.Int32
}

func (h *hedgeTrace) AttemptEnd(ctx context.Context, call *interceptors.Call, a *interceptors.Attempt) {
	h.t.AttemptEnd(ctx, call, a)
}

func (h *hedgeTrace) CallEnd(ctx context.Context, call *interceptors.Call) {
	if call.Hedged && h.left.Add(-1) >= 0 {
		h.t.CallEnd(ctx, call)
		return
	}
	h.t.forget(call)
}

// writeStaleReport prints the stale-read counters after bench's result;
// names maps addresses to node ids (the embedded cluster's), if known.
func writeStaleReport(w io.Writer, s norikv.Stats, gets uint64, names map[string]string) {
	if s.Hedges.Sent+s.Hedges.Refused == 0 && len(s.Replicas) == 0 {
		return
	}
	share := 0.0
	if gets > 0 {
		share = 100 * float64(s.Hedges.Sent) / float64(gets)
	}
	fmt.Fprintf(w, "hedges sent %d (%.2f%% of Gets), won %d, refused by the hedge budget %d, delay now %v\n",
		s.Hedges.Sent, share, s.Hedges.Won, s.Hedges.Refused, s.Hedges.Delay.Round(10*time.Microsecond))
	for _, r := range s.Replicas {
		node := r.Addr
		if id := names[r.Addr]; id != "" {
			node = id + " " + r.Addr
		}
		fmt.Fprintf(w, "  stale reads to %s: %d (latency estimate %v)\n", node, r.Reads, r.Latency.Round(10*time.Microsecond))
	}
}

// benchReplica is one node's stale reads in bench --json.
type benchReplica struct {
	Node    string  `json:"node,omitempty"` // the embedded cluster's id
	Addr    string  `json:"addr"`
	Reads   uint64  `json:"reads"`
	Latency float64 `json:"latency_estimate_ms"`
}

func benchReplicas(s norikv.Stats, names map[string]string) []benchReplica {
	out := make([]benchReplica, 0, len(s.Replicas))
	for _, r := range s.Replicas {
		out = append(out, benchReplica{Node: names[r.Addr], Addr: r.Addr, Reads: r.Reads, Latency: millis(r.Latency)})
	}
	return out
}
