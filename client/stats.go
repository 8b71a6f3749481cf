package norikv

import (
	"fmt"
	"strings"
	"time"
)

// Stats is a snapshot of a client's counters. Its String is one line
// naming each counter, for logs.
type Stats struct {
	Pool     PoolStats
	Router   RouterStats
	Topology TopologyStats
	Requests RequestStats
	Backoff  BackoffStats
	// Hedges counts hedged stale_ok Gets (Config.StaleReads).
	Hedges HedgeStats
	// Replicas lists every node that served stale reads, by address:
	// how many went to each, and its latency estimate, which stale reads
	// are routed by.
	Replicas []ReplicaStats
}

// HedgeStats counts hedges since New. Sent/stale reads is the extra load
// hedging added; Won/Sent how often the hedge was the faster.
type HedgeStats struct {
	Sent    uint64        // hedges sent (each is also counted in Requests.Total)
	Won     uint64        // hedges whose answer was the read's
	Refused uint64        // hedges not sent: the hedge budget was spent
	Delay   time.Duration // the delay a read waits now before its hedge
}

// ReplicaStats is one node's stale-read record.
type ReplicaStats struct {
	Addr  string // host:port
	Reads uint64 // stale reads sent to it, hedges included
	// Latency is the node's latency estimate now (a slow node's decays
	// while it is left alone, until it is probed again).
	Latency time.Duration
}

// BackoffStats reports each named backoff policy the client sleeps under,
// apart: a storm of call retries and a flapping watch look different.
type BackoffStats struct {
	CallRetry      PolicyStats // a call's retries, paced by Config.Retry
	WatchReconnect PolicyStats // reopening the cluster watch
}

// PolicyStats counts the waits of one backoff policy since New.
type PolicyStats struct {
	Policy string        // its name: "CallRetry", "WatchReconnect"
	Count  uint64        // backoffs begun
	Time   time.Duration // time spent in them
}

// PoolStats counts connections at the dialer: ActiveConnections is
// connections dialed and not yet closed, whatever the pool thinks.
type PoolStats struct {
	ActiveConnections int
	Dialed            uint64 // connections opened since New
	DialFailures      uint64
}

// RouterStats describes routing.
type RouterStats struct {
	TotalNodes  int // nodes in the view, or seeds before one
	TotalShards int
}

// TopologyStats describes the cluster view.
type TopologyStats struct {
	Epoch         uint64 // 0 before a view
	CachedLeaders int    // shards with a known leader
	ViewUpdates   uint64 // views applied
	Watching      bool   // the watch stream is open
}

// RequestStats counts calls since New. A Kv.Batch (explicit, or natural
// batching of concurrent calls) counts once for all its operations.
type RequestStats struct {
	Total           uint64 // calls that reached the wire path
	Retries         uint64 // attempts after a backoff
	Redirects       uint64 // attempts after a NOT_LEADER hint
	Failures        uint64 // calls that returned an error
	BudgetExhausted uint64 // retries refused by the retry budget
	BudgetTokens    int    // retries the budget would allow now
	// AutoKeyed counts writes sent with an automatic idempotency key (a
	// session key: the cluster announces client sessions), and Unkeyed
	// writes sent with none (it does not, and the caller gave no
	// WithIdempotencyKey): those are retried only after failures that
	// prove they were not applied. Caller-keyed writes are in neither.
	AutoKeyed, Unkeyed uint64
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	rs := c.retry.Stats()
	ks := c.session.Stats()
	s := Stats{
		Pool: PoolStats{
			ActiveConnections: int(c.dialer.active.Load()),
			Dialed:            c.dialer.dialed.Load(),
			DialFailures:      c.dialer.failed.Load(),
		},
		Router: RouterStats{TotalNodes: c.topo.TotalNodes(), TotalShards: c.topo.TotalShards()},
		Topology: TopologyStats{
			CachedLeaders: c.topo.CachedLeaders(),
			ViewUpdates:   c.topo.ViewsApplied(),
			Watching:      c.topo.Watching(),
		},
		Requests: RequestStats{
			Total:           rs.Requests,
			Retries:         rs.Retries,
			Redirects:       rs.Redirects,
			Failures:        rs.Failures,
			BudgetExhausted: rs.BudgetExhausted,
			BudgetTokens:    rs.BudgetTokens,
			AutoKeyed:       ks.AutoKeyed,
			Unkeyed:         ks.Unkeyed,
		},
	}
	wr := c.topo.Reconnects()
	s.Backoff = BackoffStats{
		CallRetry:      PolicyStats{Policy: rs.BackoffPolicy, Count: rs.Retries, Time: rs.BackoffTime},
		WatchReconnect: PolicyStats{Policy: wr.Policy, Count: wr.Count, Time: wr.Slept},
	}
	if v := c.topo.View(); v != nil {
		s.Topology.Epoch = v.GetEpoch()
	}
	h := c.hedger
	s.Hedges = HedgeStats{Sent: h.sent.Load(), Won: h.won.Load(), Refused: h.refused.Load(), Delay: h.delay()}
	for _, r := range c.topo.ReplicaLatencies() {
		s.Replicas = append(s.Replicas, ReplicaStats{Addr: r.Addr, Reads: r.Reads, Latency: r.Estimate})
	}
	return s
}

// String formats s as one readable line: "pool: 2 connections open, ...;
// router: ...; topology: ...; requests: ...; backoff: ...".
func (s Stats) String() string {
	watching := "not watching"
	if s.Topology.Watching {
		watching = "watching"
	}
	return fmt.Sprintf("pool: %d connections open, %d dialed, %d dial failures; router: %d nodes, %d shards; "+
		"topology: epoch %d, %d cached leaders, %d views applied, %s; "+
		"requests: %d total, %d retries, %d redirects, %d failures, %d refused by the retry budget, %d budget tokens, %d writes auto-keyed, %d unkeyed; "+
		"backoff: %d call retry waits (%v), %d watch reconnect waits (%v); "+
		"hedges: %d sent, %d won, %d refused by the hedge budget, delay %v%s",
		s.Pool.ActiveConnections, s.Pool.Dialed, s.Pool.DialFailures, s.Router.TotalNodes, s.Router.TotalShards,
		s.Topology.Epoch, s.Topology.CachedLeaders, s.Topology.ViewUpdates, watching,
		s.Requests.Total, s.Requests.Retries, s.Requests.Redirects, s.Requests.Failures, s.Requests.BudgetExhausted, s.Requests.BudgetTokens, s.Requests.AutoKeyed, s.Requests.Unkeyed,
		s.Backoff.CallRetry.Count, s.Backoff.CallRetry.Time, s.Backoff.WatchReconnect.Count, s.Backoff.WatchReconnect.Time,
		s.Hedges.Sent, s.Hedges.Won, s.Hedges.Refused, s.Hedges.Delay, s.replicasString())
}

// replicasString is "; stale reads: addr 10 (0.3ms), ..." or "".
func (s Stats) replicasString() string {
	if len(s.Replicas) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString("; stale reads:")
	for i, r := range s.Replicas {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, " %s %d (%v)", r.Addr, r.Reads, r.Latency.Round(10*time.Microsecond))
	}
	return b.String()
}
