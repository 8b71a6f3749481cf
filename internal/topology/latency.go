package topology

import (
	"math"
	"math/rand/v2"
	"sort"
	"sync/atomic"
	"time"
)

// This file is the Router's choice of replica for stale reads, which any
// replica of the shard may serve. One slow replica (a GC pause, a noisy
// neighbour, a stalled disk) must not set the tail latency of every stale
// read, so the Router keeps, per node, a cheap estimate of how long it
// takes to answer one and prefers the fastest replicas:
//
//   - the estimate is a peak-EWMA of the node's stale-read latency: a
//     slower answer than the estimate replaces it at once, a faster one
//     is averaged in, weighted by the time since the previous answer
//     (time constant latencyDecay), so a latency spike is seen at once and
//     forgotten within seconds;
//   - a node's score is its estimate times (stale reads in flight to it
//     + 1), so load spreads over replicas that are equally fast;
//   - the choice is the power of two choices: two healthy replicas at
//     random, the lower score wins, so concurrent callers do not all pile
//     onto the one node that looked fastest a moment ago;
//   - an estimate that is not refreshed decays towards zero (on read, by
//     the time since it was last updated), so a node left alone because
//     it was slow gets a probe after a few time constants and wins its
//     traffic back once it is fast again.
//
// The routing interceptor feeds the estimate (ReadStarted, ReadEnded)
// around each stale-read attempt. Route and RouteReplica only read it:
// atomics, no locks, no allocation. Leader-bound requests never look at
// it.

// latencyDecay is the estimate's time constant: how fast old answers are
// forgotten, and how soon an unused node's estimate fades (a node that
// was 40x slower than the others is probed again after about
// ln(40) ≈ 3.7 time constants).
const latencyDecay = time.Second

// nodeLatency is one node's estimate. Updates are load-then-store, not
// compare-and-swap: two answers landing at once may lose one of them,
// which an estimate can afford.
type nodeLatency struct {
	cost    atomic.Int64  // peak-EWMA of answer times, ns
	stamp   atomic.Int64  // unix ns of the last update; 0 never
	pending atomic.Int32  // stale reads in flight to the node
	reads   atomic.Uint64 // stale reads sent to the node
}

// latencyOf returns addr's estimate, nil if the node has served no stale
// read yet.
func (r *Router) latencyOf(addr string) *nodeLatency {
	if v, ok := r.latency.Load(addr); ok {
		return v.(*nodeLatency) //nolint:errcheck // latency holds only *nodeLatency values
	}
	return nil
}

// ReadStarted records that a stale read goes to addr now. Every call is
// followed by one ReadEnded for the same address.
func (r *Router) ReadStarted(addr string) {
	n := r.latencyOf(addr)
	if n == nil {
		v, _ := r.latency.LoadOrStore(addr, &nodeLatency{})
		n = v.(*nodeLatency) //nolint:errcheck // latency holds only *nodeLatency values
	}
	n.pending.Add(1)
	n.reads.Add(1)
}

// ReadEnded records the end of a stale read to addr after elapsed.
// answered is false when no answer came (the attempt was cancelled,
// timed out or failed to connect): elapsed is then only a lower bound of
// the node's latency, and raises the estimate but never lowers it. A
// hedged read's loser, cancelled when the other replica answered first,
// so still teaches that its node was slower than the hedge delay.
func (r *Router) ReadEnded(addr string, elapsed time.Duration, answered bool) {
	n := r.latencyOf(addr)
	if n == nil {
		return
	}
	n.pending.Add(-1)
	now := time.Now().UnixNano()
	rtt, cost := int64(elapsed), n.cost.Load()
	last := n.stamp.Swap(now)
	switch {
	case rtt >= cost || last == 0:
		n.cost.Store(rtt)
	case answered:
		w := math.Exp(-float64(now-last) / float64(latencyDecay))
		n.cost.Store(int64(float64(cost)*w + float64(rtt)*(1-w)))
	}
}

// score is n's cost of taking one more stale read at now: the estimate,
// decayed by the time since its last update, times the reads in flight
// plus one. A node never measured scores 1 ns per read in flight, so it
// is tried soon and learnt.
func (n *nodeLatency) score(now int64) float64 {
	if n == nil {
		return 1
	}
	return (n.estimate(now) + 1) * float64(n.pending.Load()+1)
}

// estimate is n's latency estimate in ns, decayed from its last update to
// now.
func (n *nodeLatency) estimate(now int64) float64 {
	c := float64(n.cost.Load())
	if dt := now - n.stamp.Load(); dt > 0 {
		c *= math.Exp(-float64(dt) / float64(latencyDecay))
	}
	return c
}

// SetRoundRobinReplicas turns the latency-aware choice off (true) or on:
// off, stale reads go round-robin over the replicas neither down nor
// suspect, as the Router did before it measured anything. For
// comparisons and for users who want an even spread.
func (r *Router) SetRoundRobinReplicas(on bool) { r.roundRobin.Store(on) }

// RouteReplica is Route for a stale read of shard: one of its replicas,
// chosen by latency (see the top of this file), never a down or suspect
// one while another is left, and not avoid ("" for none) while another
// healthy replica is left, so a hedged read's second request goes to a
// second node. Without a view naming the shard's replicas it routes as
// Route does.
func (r *Router) RouteReplica(shard int, avoid string) string {
	if r.slot(shard) != nil {
		if s := r.snap.Load(); s != nil && shard < len(s.replicas) && len(s.replicas[shard]) > 0 {
			return r.pickReplica(s.replicas[shard], avoid)
		}
	}
	return r.Route(shard, false)
}

// pickReplica chooses among addrs by the power of two choices on score,
// over the replicas neither down, suspect nor avoid; with none such, it
// falls back to pick (round-robin, suspect ones last).
func (r *Router) pickReplica(addrs []string, avoid string) string {
	if r.roundRobin.Load() && avoid == "" {
		return r.pick(addrs)
	}
	n := len(addrs)
	start := 0
	if n > 1 {
		start = rand.IntN(n)
	}
	now := int64(0)
	var cand [2]string
	k := 0
	for i := 0; i < n && k < 2; i++ {
		a := addrs[(start+i)%n]
		if a == avoid || r.isDown(a, &now) || r.isSuspect(a) {
			continue
		}
		cand[k] = a
		k++
		if r.roundRobin.Load() {
			return a // a hedge, round-robin: any other replica
		}
	}
	switch k {
	case 0:
		return r.pick(addrs)
	case 1:
		return cand[0]
	}
	if now == 0 {
		now = time.Now().UnixNano()
	}
	if r.latencyOf(cand[1]).score(now) < r.latencyOf(cand[0]).score(now) {
		return cand[1]
	}
	return cand[0]
}

// ReplicaLatency is one node's stale-read record, for Stats.
type ReplicaLatency struct {
	Addr string
	// Reads counts stale reads sent to the node (hedges included).
	Reads uint64
	// Estimate is the node's current latency estimate (decayed to now).
	Estimate time.Duration
	// Pending is the stale reads in flight to it.
	Pending int
}

// ReplicaLatencies returns every node that has served a stale read, by
// address.
func (r *Router) ReplicaLatencies() []ReplicaLatency {
	now := time.Now().UnixNano()
	var out []ReplicaLatency
	r.latency.Range(func(k, v any) bool {
		n := v.(*nodeLatency) //nolint:errcheck // latency holds only *nodeLatency values
		addr := k.(string)    //nolint:errcheck // keyed by address
		out = append(out, ReplicaLatency{Addr: addr, Reads: n.reads.Load(), Estimate: time.Duration(n.estimate(now)), Pending: int(n.pending.Load())})
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}
