package topology

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

// RouterConfig configures a Router.
type RouterConfig struct {
	Seeds []string // host:port, at least one
	// TotalShards is the cluster's shard count; 0 learns it from the
	// first view installed.
	TotalShards int
	// DownFor is how long an unreachable address is skipped when a seed
	// or replica is picked round-robin. Default 1s.
	DownFor time.Duration
	Logger  *slog.Logger
	// Stale is called whenever the router learns that its view is out of
	// date (a NOT_LEADER reply, an unreachable node); the Manager asks
	// its watcher for a fresh view. Nil: nothing is asked.
	Stale func()
}

// Router maps a shard to the node to send it to: view → shard → node,
// corrected between views by NOT_LEADER hints and by nodes found
// unreachable or suspect. It is the client's one home for the reaction
// to a NOT_LEADER reply (NotLeader). It starts no goroutines and does no
// I/O: views come from outside (the Manager's watcher). Its methods are
// safe for concurrent use; Route takes no locks and does not allocate.
type Router struct {
	seeds      []string
	configured int // RouterConfig.TotalShards
	downFor    time.Duration
	log        *slog.Logger
	stale      func()

	snap  atomic.Pointer[snapshot]
	table atomic.Pointer[shardTable] // nil until the shard count is known
	rr    atomic.Uint32
	down  sync.Map // addr → int64 unix nanos until which it is skipped
	// suspect holds addresses that timed out and have not answered
	// since (addr → struct{}); nSuspect counts them so the hot path skips
	// the map while there are none.
	suspect  sync.Map
	nSuspect atomic.Int32
	// latency holds each node's stale-read latency estimate (addr →
	// *nodeLatency) and roundRobin turns its use off (latency.go).
	latency    sync.Map
	roundRobin atomic.Bool

	views     atomic.Uint64          // views installed
	shardsErr atomic.Pointer[errBox] // set while the view contradicts the shard count
}

type errBox struct{ err error }

// NewRouter returns a Router over cfg.Seeds.
func NewRouter(cfg RouterConfig) *Router {
	if cfg.DownFor <= 0 {
		cfg.DownFor = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Stale == nil {
		cfg.Stale = func() {}
	}
	r := &Router{
		seeds:      append([]string(nil), cfg.Seeds...),
		configured: cfg.TotalShards,
		downFor:    cfg.DownFor,
		log:        cfg.Logger,
		stale:      cfg.Stale,
	}
	if cfg.TotalShards > 0 {
		r.table.Store(&shardTable{leaders: make([]atomic.Pointer[leader], cfg.TotalShards)})
	}
	return r
}

// Route returns the address to send a request for shard to. Leader-bound
// requests go to the cached leader; stale reads (needLeader false) go to
// one of the shard's replicas, the fastest by the Router's estimate
// (RouteReplica, latency.go). Without a known leader or replicas the
// request goes to a seed node, round-robin, and a NOT_LEADER reply will
// teach the leader.
func (r *Router) Route(shard int, needLeader bool) string {
	if lp := r.slot(shard); lp != nil {
		s := r.snap.Load()
		if s != nil && shard >= len(s.replicas) {
			s = nil // a view older than the shard table: seeds and hints only
		}
		if !needLeader && s != nil && len(s.replicas[shard]) > 0 {
			return r.pickReplica(s.replicas[shard], "")
		}
		if l := lp.Load(); l != nil && !r.isSuspect(l.addr) {
			return l.addr
		}
		if s != nil && len(s.replicas[shard]) > 0 {
			return r.pick(s.replicas[shard])
		}
	}
	return r.pick(r.seeds)
}

// NotLeader is the client's reaction to a failed attempt for shard (-1
// for a request not routed by shard). If err is not a NOT_LEADER reply it
// returns notLeader false and does nothing. Otherwise it records the
// leader the reply names, if the client may dial it (see resolveHint),
// asks for a view refresh, and returns in next the address the next
// attempt should use: "" if the reply names no leader the client may
// dial, or the request is not routed by shard (the next attempt then
// falls back to replicas or seeds, after a backoff).
func (r *Router) NotLeader(shard int, err error) (next string, notLeader bool) {
	h, ok := wire.ParseNotLeader(err)
	if !ok {
		return "", false
	}
	addr := r.learnLeader(shard, h.LeaderID, h.LeaderAddr)
	if shard < 0 {
		return "", true
	}
	return addr, true
}

// learnLeader records that shard's leader is the node a hint names by id
// and/or address, asks for a view refresh, and returns the leader's
// address ("" if unknown or not to be trusted).
func (r *Router) learnLeader(shard int, leaderID, leaderAddr string) string {
	addr := r.resolveHint(leaderID, leaderAddr)
	if lp := r.slot(shard); lp != nil {
		if addr != "" {
			lp.Store(&leader{id: leaderID, addr: addr})
		} else {
			lp.Store(nil)
		}
	}
	r.stale()
	return addr
}

// resolveHint returns the address of the leader a NOT_LEADER reply names,
// if the client may dial it. An address is trusted only if it is a seed or
// a node of the current view: a reply is not allowed to send a shard's
// traffic, and the bearer token with it, to a host the user never named
// nor the cluster published. A node id resolves through the view. A hint
// that fails both checks is dropped.
func (r *Router) resolveHint(id, addr string) string {
	s := r.snap.Load()
	if addr != "" {
		if contains(r.seeds, addr) || (s != nil && contains(s.addrs, addr)) {
			return addr
		}
		r.log.Debug("norikv: ignoring a leader hint outside the cluster view and seeds", "leader_addr", addr, "leader_id", id)
	}
	if id != "" && s != nil {
		if a, ok := s.nodes[id]; ok {
			return a
		}
	}
	return ""
}

// Unreachable records that addr could not be reached while serving shard
// (-1 if none): the address is skipped for a while, forgotten as the
// shard's leader, and a view refresh is requested.
func (r *Router) Unreachable(shard int, addr string) {
	r.down.Store(addr, time.Now().Add(r.downFor).UnixNano())
	r.forgetLeader(shard, addr)
	r.stale()
}

// Suspect records that addr took too long to answer (an attempt or a
// watch stream timed out on it) while serving shard (-1 if none). Unlike
// an unreachable node, which is skipped for DownFor, a suspect node stays
// last in every choice until it answers again (Answered): a node that
// accepts connections and never replies costs one timeout, not one per
// call. It is forgotten as the shard's leader.
func (r *Router) Suspect(shard int, addr string) {
	if _, loaded := r.suspect.LoadOrStore(addr, struct{}{}); !loaded {
		r.nSuspect.Add(1)
		r.log.Debug("norikv: node suspect: it did not answer in time", "addr", addr)
	}
	r.forgetLeader(shard, addr)
}

// Answered records that addr answered (any reply, error replies too), so
// it is no longer suspect. It costs one atomic load while no node is
// suspect.
func (r *Router) Answered(addr string) {
	if r.nSuspect.Load() == 0 {
		return
	}
	if _, ok := r.suspect.LoadAndDelete(addr); ok {
		r.nSuspect.Add(-1)
		r.log.Debug("norikv: suspect node answered", "addr", addr)
	}
}

// View returns the latest ClusterView, or nil before the first one.
func (r *Router) View() *v1.ClusterView {
	if s := r.snap.Load(); s != nil {
		return s.view
	}
	return nil
}

// CachedLeaders counts shards with a known leader.
func (r *Router) CachedLeaders() int {
	t := r.table.Load()
	if t == nil {
		return 0
	}
	n := 0
	for i := range t.leaders {
		if t.leaders[i].Load() != nil {
			n++
		}
	}
	return n
}

// TotalNodes is the number of nodes in the view, or of seeds before one.
func (r *Router) TotalNodes() int {
	if s := r.snap.Load(); s != nil {
		return len(s.nodes)
	}
	return len(r.seeds)
}

// ViewsApplied counts views that replaced an older one.
func (r *Router) ViewsApplied() uint64 { return r.views.Load() }

// Shards returns the shard count to route a call by. A Router alone has
// no watch to learn it from: with TotalShards 0 it is an error until a
// view is installed. The Manager's Shards waits for the watch instead.
func (r *Router) Shards(context.Context) (int, error) {
	if n := r.TotalShards(); n > 0 {
		if b := r.shardsErr.Load(); b != nil {
			return 0, b.err
		}
		return n, nil
	}
	return 0, connect.NewError(connect.CodeInvalidArgument, errors.New("TotalShards is 0 and there is no cluster watch to learn it from"))
}

// install makes v the current view, learning or checking the shard count
// and resetting the leader cache from it. It returns the view it replaced
// and the new one. Whether v wins is decided before (Manager.offer, which
// holds applyMu: events follow views in order).
func (r *Router) install(v *v1.ClusterView) (old, cur *snapshot) {
	old = r.snap.Load()
	r.learnShards(v)
	cur = buildSnapshot(v, r.TotalShards())
	skipDownReplicas(v, cur)
	r.snap.Store(cur)
	if t := r.table.Load(); t != nil {
		for i := range t.leaders {
			t.leaders[i].Store(cur.leaders[i])
		}
	}
	r.views.Add(1)
	return old, cur
}

// hasView reports whether a view has been installed.
func (r *Router) hasView() bool { return r.snap.Load() != nil }

// viewAddrs is every node address of the current view (nil before one).
func (r *Router) viewAddrs() []string {
	if s := r.snap.Load(); s != nil {
		return s.addrs
	}
	return nil
}

// forgetLeader drops addr as shard's cached leader, if it is.
func (r *Router) forgetLeader(shard int, addr string) {
	if lp := r.slot(shard); lp != nil {
		if l := lp.Load(); l != nil && l.addr == addr {
			lp.CompareAndSwap(l, nil)
		}
	}
}

// isSuspect reports whether addr is suspect, without a map lookup while
// none is.
func (r *Router) isSuspect(addr string) bool {
	if r.nSuspect.Load() == 0 {
		return false
	}
	_, ok := r.suspect.Load(addr)
	return ok
}

// isDown reports whether addr is inside its DownFor window, forgetting
// windows that ended. now is read once per pick, lazily.
func (r *Router) isDown(addr string, now *int64) bool {
	until, ok := r.down.Load(addr)
	if !ok {
		return false
	}
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	if until.(int64) < *now { //nolint:errcheck // r.down holds only int64 deadlines
		r.down.Delete(addr)
		return false
	}
	return true
}

// pick returns the next address of addrs round-robin, preferring ones
// neither recently unreachable nor suspect; then a suspect one that is not
// down; then, if all are down, the next one anyway.
func (r *Router) pick(addrs []string) string {
	n := uint32(len(addrs))
	start := r.rr.Add(1)
	now := int64(0)
	fallback := ""
	for i := range n {
		a := addrs[(start+i)%n]
		if r.isDown(a, &now) {
			continue
		}
		if !r.isSuspect(a) {
			return a
		}
		if fallback == "" {
			fallback = a
		}
	}
	if fallback != "" {
		return fallback
	}
	return addrs[start%n]
}

func contains(ss []string, s string) bool {
	return slices.Contains(ss, s)
}
