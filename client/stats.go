package norikv

// Stats is a snapshot of a client's counters.
type Stats struct {
	Pool     PoolStats
	Router   RouterStats
	Topology TopologyStats
	Requests RequestStats
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
}

// Stats returns the client's counters.
func (c *Client) Stats() Stats {
	rs := c.retry.Stats()
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
		},
	}
	if v := c.topo.View(); v != nil {
		s.Topology.Epoch = v.GetEpoch()
	}
	return s
}
