package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/backoff"
)

// WatchFunc opens Meta.WatchCluster on the node at addr and calls onView for
// every message until the stream ends; it returns the stream's error (nil
// at a clean end). It must return promptly once ctx is done.
type WatchFunc func(ctx context.Context, addr string, onView func(*v1.ClusterView)) error

// Config configures a Manager.
type Config struct {
	Seeds []string // host:port, at least one
	// TotalShards is the cluster's shard count; 0 learns it from the
	// first view (see Shards).
	TotalShards int
	// Watch opens the cluster watch. Nil means no watch: the manager
	// learns leaders only from NOT_LEADER hints.
	Watch WatchFunc
	// NoBackgroundWatch keeps Start from running the watch: Watch is then
	// used only by FetchOnce.
	NoBackgroundWatch bool
	// Backoff paces watch reconnects.
	Backoff backoff.Policy
	// UnimplementedDelay is the wait before asking again a cluster whose
	// nodes answered UNIMPLEMENTED for Meta. Default 30s.
	UnimplementedDelay time.Duration
	// DownFor is how long an unreachable address is skipped when a seed
	// or replica is picked round-robin. Default 1s.
	DownFor time.Duration
	// SeedTimeout bounds how long a watch stream may take to deliver its
	// first view; a node that takes longer is given up on and marked
	// suspect. Before the first view every seed is asked at once, so one
	// hung seed costs nothing while another answers. Default 2s.
	SeedTimeout time.Duration
	Logger      *slog.Logger
}

// minRefreshInterval keeps a storm of NOT_LEADER replies from restarting
// the watch stream more often than this.
const minRefreshInterval = 200 * time.Millisecond

// Manager is one client's view of the cluster. Its methods are safe for
// concurrent use.
type Manager struct {
	cfg   Config
	seeds []string
	log   *slog.Logger
	snap  atomic.Pointer[snapshot]
	table atomic.Pointer[shardTable] // nil until the shard count is known
	rr    atomic.Uint32
	down  sync.Map // addr → int64 unix nanos until which it is skipped
	// suspect holds addresses that timed out and have not answered
	// since (addr → struct{}); nSuspect counts them so the hot path skips
	// the map while there are none.
	suspect  sync.Map
	nSuspect atomic.Int32

	applyMu sync.Mutex // serialises view application and its events

	refresh chan struct{} // cap 1: coalesces refresh requests
	ready   chan struct{} // closed once a view arrived or Meta is unimplemented
	readyMu sync.Once
	lastErr atomic.Pointer[errBox]
	// failed is notified (cap 1) whenever a watch attempt ends without a
	// view; failStreak counts such attempts in a row. WaitReady uses them
	// to give up early instead of waiting out its ctx.
	failed     chan struct{}
	failStreak atomic.Int32

	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	startOnce sync.Once
	closeOnce sync.Once
	watching  atomic.Bool

	views atomic.Uint64 // views applied

	shardsErr atomic.Pointer[errBox] // set while the view contradicts the shard count
	noMeta    atomic.Bool            // a node answered UNIMPLEMENTED for Meta
	fetchSem  chan struct{}          // cap 1: one fetchShared at a time

	subsMu  sync.Mutex
	subs    map[uint64]*subscriber
	nextSub uint64
}

type errBox struct{ err error }

// New returns a Manager. It does no I/O; Start begins the watch.
func New(cfg Config) *Manager {
	if cfg.UnimplementedDelay <= 0 {
		cfg.UnimplementedDelay = 30 * time.Second
	}
	if cfg.DownFor <= 0 {
		cfg.DownFor = time.Second
	}
	if cfg.SeedTimeout <= 0 {
		cfg.SeedTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &Manager{
		cfg:      cfg,
		seeds:    append([]string(nil), cfg.Seeds...),
		log:      cfg.Logger,
		fetchSem: make(chan struct{}, 1),
		refresh:  make(chan struct{}, 1),
		ready:    make(chan struct{}),
		failed:   make(chan struct{}, 1),
		ctx:      ctx,
		cancel:   cancel,
		subs:     map[uint64]*subscriber{},
	}
	if cfg.TotalShards > 0 {
		m.table.Store(&shardTable{leaders: make([]atomic.Pointer[leader], cfg.TotalShards)})
	}
	return m
}

// Route returns the address to send a request for shard to. Leader-bound
// requests go to the cached leader; stale reads (needLeader false) spread
// over the shard's replicas. Without a known leader or replicas the
// request goes to a seed node, round-robin, and a NOT_LEADER reply will
// teach the leader.
func (m *Manager) Route(shard int, needLeader bool) string {
	if lp := m.slot(shard); lp != nil {
		s := m.snap.Load()
		if s != nil && shard >= len(s.replicas) {
			s = nil // a view older than the shard table: seeds and hints only
		}
		if !needLeader && s != nil && len(s.replicas[shard]) > 0 {
			return m.pick(s.replicas[shard])
		}
		if l := lp.Load(); l != nil && !m.isSuspect(l.addr) {
			return l.addr
		}
		if s != nil && len(s.replicas[shard]) > 0 {
			return m.pick(s.replicas[shard])
		}
	}
	return m.pick(m.seeds)
}

// NotLeader records a NOT_LEADER reply for shard naming the leader by id
// and/or address, asks for a view refresh, and returns the address the
// next attempt should use ("" if the leader is unknown or the hint is not
// to be trusted: the next attempt falls back to replicas or seeds).
func (m *Manager) NotLeader(shard int, leaderID, leaderAddr string) string {
	addr := m.resolveHint(leaderID, leaderAddr)
	if lp := m.slot(shard); lp != nil {
		if addr != "" {
			lp.Store(&leader{id: leaderID, addr: addr})
		} else {
			lp.Store(nil)
		}
	}
	m.RequestRefresh()
	return addr
}

// resolveHint returns the address of the leader a NOT_LEADER reply names,
// if the client may dial it. An address is trusted only if it is a seed or
// a node of the current view: a reply is not allowed to send a shard's
// traffic, and the bearer token with it, to a host the user never named
// nor the cluster published. A node id resolves through the view. A hint
// that fails both checks is dropped.
func (m *Manager) resolveHint(id, addr string) string {
	s := m.snap.Load()
	if addr != "" {
		if contains(m.seeds, addr) || (s != nil && contains(s.addrs, addr)) {
			return addr
		}
		m.log.Debug("norikv: ignoring a leader hint outside the cluster view and seeds", "leader_addr", addr, "leader_id", id)
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
func (m *Manager) Unreachable(shard int, addr string) {
	m.down.Store(addr, time.Now().Add(m.cfg.DownFor).UnixNano())
	m.forgetLeader(shard, addr)
	m.RequestRefresh()
}

// RequestRefresh asks the watcher to fetch a fresh view. Requests coalesce:
// any number of them before the watcher acts cause one refresh.
func (m *Manager) RequestRefresh() {
	select {
	case m.refresh <- struct{}{}:
	default:
	}
}

// View returns the latest ClusterView, or nil before the first one.
func (m *Manager) View() *v1.ClusterView {
	if s := m.snap.Load(); s != nil {
		return s.view
	}
	return nil
}

// CachedLeaders counts shards with a known leader.
func (m *Manager) CachedLeaders() int {
	t := m.table.Load()
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
func (m *Manager) TotalNodes() int {
	if s := m.snap.Load(); s != nil {
		return len(s.nodes)
	}
	return len(m.seeds)
}

// ViewsApplied counts views that replaced an older one.
func (m *Manager) ViewsApplied() uint64 { return m.views.Load() }

// Watching reports whether the watch stream is currently open.
func (m *Manager) Watching() bool { return m.watching.Load() }

// Apply installs v if its epoch is newer than the current view's, resets
// the leader cache from it, and notifies subscribers. The watcher calls
// it; tests and static setups may call it directly.
func (m *Manager) Apply(v *v1.ClusterView) {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	old := m.snap.Load()
	if old != nil && v.GetEpoch() <= old.view.GetEpoch() {
		return
	}
	m.learnShards(v)
	s := buildSnapshot(v, m.TotalShards())
	skipDownReplicas(v, s)
	m.snap.Store(s)
	if t := m.table.Load(); t != nil {
		for i := range t.leaders {
			t.leaders[i].Store(s.leaders[i])
		}
	}
	m.views.Add(1)
	m.markReady()
	m.publish(diff(old, s))
}

func (m *Manager) markReady() { m.readyMu.Do(func() { close(m.ready) }) }

// Start begins the background watch, once. Without a WatchFunc, or with
// NoBackgroundWatch, it does nothing.
func (m *Manager) Start() {
	if m.cfg.Watch == nil || m.cfg.NoBackgroundWatch {
		return
	}
	m.startOnce.Do(func() {
		if m.ctx.Err() != nil {
			return
		}
		m.wg.Add(1)
		go m.run()
	})
}

// WaitReady waits until a view has been applied or the cluster turned out
// not to serve Meta. It gives up early, with the last watch error, once
// every seed has failed in a row or a node refused the client for good
// (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT): waiting longer
// would only delay the same answer. The watch itself goes on in the
// background. If ctx ends first it returns ctx's error joined with the
// last watch error.
func (m *Manager) WaitReady(ctx context.Context) error {
	for {
		select {
		case <-m.ready:
			return nil
		case <-m.ctx.Done():
			return errors.New("topology: closed")
		case <-m.failed:
			b := m.lastErr.Load()
			if b == nil || b.err == nil {
				continue
			}
			if permanent(b.err) || int(m.failStreak.Load()) >= len(m.seeds) {
				return b.err
			}
		case <-ctx.Done():
			if b := m.lastErr.Load(); b != nil && b.err != nil {
				return errors.Join(ctx.Err(), b.err)
			}
			return ctx.Err()
		}
	}
}

// permanent reports errors that retrying the same request cannot cure.
func permanent(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied, connect.CodeInvalidArgument:
		return true
	}
	return false
}

// Close stops the watcher and all subscriber deliveries. It waits for the
// watcher only, never for a callback: it may be called from one, and a
// blocked callback does not hold it up (that subscriber's goroutine exits
// when the callback returns, delivering nothing more). It is idempotent.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		m.cancel()
		m.subsMu.Lock()
		for id, s := range m.subs {
			s.stop()
			delete(m.subs, id)
		}
		m.subsMu.Unlock()
		m.wg.Wait()
	})
}

// watchAddr is the i-th address in the rotation: seeds first, then nodes
// the view knows that are not seeds, so a watch survives the loss of every
// seed. Suspect addresses are passed over unless all are.
func (m *Manager) watchAddr(i int) string {
	cands := m.seeds
	if s := m.snap.Load(); s != nil {
		for _, a := range s.addrs {
			if !contains(m.seeds, a) {
				cands = append(cands[:len(cands):len(cands)], a)
			}
		}
	}
	for j := range len(cands) {
		if a := cands[(i+j)%len(cands)]; !m.isSuspect(a) {
			return a
		}
	}
	return cands[i%len(cands)]
}

func contains(ss []string, s string) bool {
	for _, v := range ss {
		if v == s {
			return true
		}
	}
	return false
}

// run is the watch loop: open a stream, apply what it sends, and on its end
// reconnect to the next address after a backoff (long if Meta is
// unimplemented). A refresh request restarts a healthy stream, whose first
// message is the current view.
func (m *Manager) run() {
	defer m.wg.Done()
	attempt := 0
	for i := 0; ; i++ {
		select { // a new stream's first message is fresh: drop stale requests
		case <-m.refresh:
		default:
		}
		// Until a view arrives, ask every seed at once: the first to
		// answer wins, and a hung seed delays nothing.
		addrs := m.seeds
		if m.snap.Load() != nil {
			addrs = []string{m.watchAddr(i)}
		}
		got, refreshed, err := m.watchOnce(m.ctx, addrs, m.cfg.Watch)
		if m.ctx.Err() != nil {
			return
		}
		if got {
			attempt = 0
			m.failStreak.Store(0)
		}
		if refreshed {
			continue
		}
		m.lastErr.Store(&errBox{err})
		unimplemented := connect.CodeOf(err) == connect.CodeUnimplemented
		if !got && !unimplemented { // UNIMPLEMENTED makes the client ready: no Meta to wait for
			m.failStreak.Add(int32(len(addrs)))
			select {
			case m.failed <- struct{}{}:
			default:
			}
		}
		var delay time.Duration
		if unimplemented {
			m.noMeta.Store(true)
			m.markReady()
			delay = m.cfg.UnimplementedDelay
			m.log.Debug("norikv: cluster watch unimplemented; routing by seeds and hints", "addrs", addrs)
		} else {
			delay = m.cfg.Backoff.Delay(attempt)
			attempt++
			m.log.Debug("norikv: cluster watch ended", "addrs", addrs, "err", err, "retry_in", delay)
		}
		if backoff.Sleep(m.ctx, delay) != nil {
			return
		}
	}
}

// FetchOnce asks every seed at once for the cluster view and applies the
// first that arrives; the others are closed. It is Connect without the
// background watch. It returns nil once a view is applied, else the
// error of the seeds (see watchOnce for the per-seed timeout).
func (m *Manager) FetchOnce(ctx context.Context) error {
	if m.cfg.Watch == nil {
		return errors.New("topology: no WatchFunc configured")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(m.ctx, cancel)()
	one := func(ctx context.Context, addr string, onView func(*v1.ClusterView)) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		return m.cfg.Watch(ctx, addr, func(v *v1.ClusterView) {
			onView(v)
			cancel()
		})
	}
	got, _, err := m.watchOnce(ctx, m.seeds, one)
	if got {
		return nil
	}
	if connect.CodeOf(err) == connect.CodeUnimplemented {
		m.noMeta.Store(true)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return errors.Join(cerr, err)
	}
	return err
}

// watchOnce opens a stream to each of addrs at once. The first to deliver
// a view becomes the watch and the others are closed; a stream with no view
// within SeedTimeout is closed and its node marked suspect. It returns when
// the winning stream ends, or when all ended without a view. refreshed
// reports that the watch was ended on purpose by a refresh request.
func (m *Manager) watchOnce(parent context.Context, addrs []string, watch WatchFunc) (got, refreshed bool, err error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	started := time.Now()
	var byRefresh atomic.Bool
	done := make(chan struct{})
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		for {
			select {
			case <-m.refresh:
				if time.Since(started) < minRefreshInterval {
					continue // the stream is fresh enough
				}
				byRefresh.Store(true)
				cancel()
				return
			case <-done:
				return
			}
		}
	}()
	var (
		winner  atomic.Int32 // index of the stream that delivered first, or -1
		applied atomic.Bool
		errs    = make([]error, len(addrs))
		cancels = make([]context.CancelFunc, len(addrs))
		ctxs    = make([]context.Context, len(addrs))
		streams sync.WaitGroup
	)
	winner.Store(-1)
	for i := range addrs {
		ctxs[i], cancels[i] = context.WithCancel(ctx)
	}
	for i, addr := range addrs {
		streams.Add(1)
		go func() {
			defer streams.Done()
			defer cancels[i]()
			var timedOut atomic.Bool
			timer := time.AfterFunc(m.cfg.SeedTimeout, func() {
				if winner.Load() != int32(i) {
					timedOut.Store(true)
					cancels[i]()
				}
			})
			defer timer.Stop()
			errs[i] = watch(ctxs[i], addr, func(v *v1.ClusterView) {
				if w := winner.Load(); w != int32(i) {
					if w >= 0 || !winner.CompareAndSwap(-1, int32(i)) {
						cancels[i]() // another stream won
						return
					}
					for j := range cancels {
						if j != i {
							cancels[j]()
						}
					}
				}
				applied.Store(true)
				m.watching.Store(true)
				m.Apply(v)
			})
			if timedOut.Load() {
				errs[i] = connect.NewError(connect.CodeDeadlineExceeded,
					fmt.Errorf("no cluster view from %s within %v", addr, m.cfg.SeedTimeout))
				m.Suspect(-1, addr)
			}
		}()
	}
	streams.Wait()
	m.watching.Store(false)
	close(done)
	if w := winner.Load(); w >= 0 {
		return applied.Load(), byRefresh.Load(), errs[w]
	}
	return false, byRefresh.Load(), firstError(errs)
}

// firstError is the error to report for streams that all failed: the
// first that is not a timeout (it says more), else the first.
func firstError(errs []error) error {
	for _, err := range errs {
		if err != nil && connect.CodeOf(err) != connect.CodeDeadlineExceeded {
			return err
		}
	}
	return errs[0]
}
