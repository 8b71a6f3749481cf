package topology

import (
	"context"
	"log/slog"
	"sync"
	"time"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/backoff"
)

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
	// Reconnect paces watch reconnects; zero fields take
	// backoff.WatchReconnect's.
	Reconnect backoff.Policy
	// Unimplemented paces asking again a cluster whose nodes answered
	// UNIMPLEMENTED for Meta; zero fields take
	// backoff.WatchUnimplemented's (a flat 30s).
	Unimplemented backoff.Policy
	// DownFor is how long an unreachable address is skipped when a seed
	// or replica is picked round-robin. Default 1s.
	DownFor time.Duration
	// SeedTimeout bounds how long a watch stream may take to deliver its
	// first view; a node that takes longer is given up on and marked
	// suspect. Before the first view every seed is asked at once, so one
	// hung seed costs nothing while another answers. After attempts that
	// timed out the bound doubles, up to 8×, so a host slower than it
	// still answers within the caller's ctx. Default 2s.
	SeedTimeout time.Duration
	// EpochDropGrace is how long the watch stream must hold a view whose
	// epoch is below the client's, from a server that sends no
	// incarnation, before the client takes it for a cluster that
	// restarted and lost its epoch and adopts it (accept.go). Default 3s.
	EpochDropGrace time.Duration
	Logger         *slog.Logger
}

// Manager is one client's view of the cluster: a Router (which node
// serves a shard, and the reaction to NOT_LEADER) kept fresh by a watcher
// (the Meta.WatchCluster stream), and the subscribers to its events. The
// Router's methods are promoted: a Manager routes. Its methods are safe
// for concurrent use.
type Manager struct {
	*Router
	w watcher

	applyMu   sync.Mutex // serialises view installation, its events and Subscribe
	retired   []string   // incarnations left behind (accept.go); under applyMu
	log       *slog.Logger
	closeOnce sync.Once

	subsMu  sync.Mutex
	subs    map[uint64]*subscriber
	nextSub uint64
}

// New returns a Manager. It does no I/O; Start begins the watch.
func New(cfg Config) *Manager {
	if cfg.SeedTimeout <= 0 {
		cfg.SeedTimeout = 2 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.EpochDropGrace <= 0 {
		cfg.EpochDropGrace = 3 * time.Second
	}
	m := &Manager{subs: map[uint64]*subscriber{}, log: cfg.Logger}
	m.Router = NewRouter(RouterConfig{
		Seeds:       cfg.Seeds,
		TotalShards: cfg.TotalShards,
		DownFor:     cfg.DownFor,
		Logger:      cfg.Logger,
		Stale:       m.RequestRefresh,
	})
	ctx, cancel := context.WithCancel(context.Background())
	m.w = watcher{
		r:             m.Router,
		seeds:         m.seeds,
		log:           cfg.Logger,
		watch:         cfg.Watch,
		noBackground:  cfg.NoBackgroundWatch,
		seedTimeout:   cfg.SeedTimeout,
		reconnect:     backoff.New(cfg.Reconnect.Or(backoff.WatchReconnect)),
		unimplemented: backoff.New(cfg.Unimplemented.Or(backoff.WatchUnimplemented)),
		offer:         m.offer,
		dropGrace:     cfg.EpochDropGrace,
		refresh:       make(chan struct{}, 1),
		ready:         make(chan struct{}),
		failed:        make(chan struct{}, 1),
		ctx:           ctx,
		cancel:        cancel,
		fetchSem:      make(chan struct{}, 1),
	}
	return m
}

// Apply installs v if it wins over the current view (a higher epoch of
// the same incarnation, or another incarnation: see accept.go), resets the
// leader cache from it, and notifies subscribers. The watcher calls it;
// tests and static setups may call it directly.
func (m *Manager) Apply(v *v1.ClusterView) { m.offer(v, false) }

// RequestRefresh asks the watcher to fetch a fresh view. Requests coalesce:
// any number of them before the watcher acts cause one refresh.
func (m *Manager) RequestRefresh() { m.w.requestRefresh() }

// Start begins the background watch, once. Without a WatchFunc, or with
// NoBackgroundWatch, it does nothing.
func (m *Manager) Start() { m.w.start() }

// Watching reports whether the watch stream is currently open.
func (m *Manager) Watching() bool { return m.w.watching.Load() }

// WaitReady waits until a view has been applied or the cluster turned out
// not to serve Meta. It gives up early, with the last watch error, once
// every seed answered an attempt with an error or a node refused the
// client for good (UNAUTHENTICATED, PERMISSION_DENIED, INVALID_ARGUMENT,
// FAILED_PRECONDITION): waiting longer would only delay the same answer.
// A seed that timed out is asked again, with a longer timeout, until ctx
// ends. The watch itself goes on in the background. If ctx ends first it
// returns ctx's error joined with the last watch error.
func (m *Manager) WaitReady(ctx context.Context) error { return m.w.waitReady(ctx) }

// FetchOnce asks every seed at once for the cluster view and applies the
// first that arrives; the others are closed. It is Connect without the
// background watch. It returns nil once a view is applied, else the
// error of the seeds (a seed with no view within SeedTimeout is given up
// on and marked suspect, and asked again with a longer timeout while ctx
// has time).
func (m *Manager) FetchOnce(ctx context.Context) error { return m.w.fetchOnce(ctx) }

// Reconnects reports the watch's reconnect backoffs
// (backoff.WatchReconnect, or Config.Reconnect).
func (m *Manager) Reconnects() backoff.Stats { return m.w.reconnect.Stats() }

// Close stops the watcher and all subscriber deliveries. It waits for the
// watcher only, never for a callback: it may be called from one, and a
// blocked callback does not hold it up (that subscriber's goroutine exits
// when the callback returns, delivering nothing more). It is idempotent.
func (m *Manager) Close() {
	m.closeOnce.Do(func() {
		m.w.cancel()
		m.subsMu.Lock()
		for id, s := range m.subs {
			s.stop()
			delete(m.subs, id)
		}
		m.subsMu.Unlock()
		m.w.stop()
	})
}
