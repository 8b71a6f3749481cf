package topology

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
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

// minRefreshInterval keeps a storm of NOT_LEADER replies from restarting
// the watch stream more often than this.
const minRefreshInterval = 200 * time.Millisecond

// watcher keeps the Router's view fresh: it owns the Meta.WatchCluster
// stream (every seed at once until the first view, then one node at a
// time), reconnects under its own backoff policies, rotates over seeds and
// view nodes passing suspect ones by, and tracks readiness. It reads the
// Router only to choose where to watch and marks nodes suspect on it;
// views go to offer (Manager.offer), which decides whether they win,
// installs them and publishes the events. A view below the client's epoch
// that no incarnation explains is adopted only if its stream holds it for
// dropGrace (epochDrop).
type watcher struct {
	r             *Router
	seeds         []string // the Router's
	log           *slog.Logger
	watch         WatchFunc // nil: no watch
	noBackground  bool
	seedTimeout   time.Duration
	reconnect     *backoff.Backoffer
	unimplemented *backoff.Backoffer
	offer         func(v *v1.ClusterView, force bool) verdict // Manager.offer
	dropGrace     time.Duration                               // Config.EpochDropGrace

	refresh chan struct{} // cap 1: coalesces refresh requests
	ready   chan struct{} // closed once a view arrived or Meta is unimplemented
	readyMu sync.Once
	lastErr atomic.Pointer[errBox]
	// failed is notified (cap 1) whenever a watch attempt ends without a
	// view; refused records whether every stream of that attempt ended
	// with an answer (an error) rather than a timeout. waitReady gives up
	// early on a refusal instead of waiting out its ctx.
	failed  chan struct{}
	refused atomic.Bool

	ctx       context.Context // cancelled by stop
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	startOnce sync.Once
	watching  atomic.Bool

	noMeta   atomic.Bool   // a node answered UNIMPLEMENTED for Meta
	fetchSem chan struct{} // cap 1: one fetchShared at a time
}

// requestRefresh asks for a fresh view. Requests coalesce: any number of
// them before the watcher acts cause one refresh.
func (w *watcher) requestRefresh() {
	select {
	case w.refresh <- struct{}{}:
	default:
	}
}

func (w *watcher) markReady() { w.readyMu.Do(func() { close(w.ready) }) }

// stop ends the watch and waits for its goroutines.
func (w *watcher) stop() {
	w.cancel()
	w.wg.Wait()
}

// start begins the background watch, once. Without a WatchFunc, or with
// NoBackgroundWatch, it does nothing.
func (w *watcher) start() {
	if w.watch == nil || w.noBackground {
		return
	}
	w.startOnce.Do(func() {
		if w.ctx.Err() != nil {
			return
		}
		w.wg.Add(1)
		go w.run()
	})
}

// waitReady waits until a view has been applied or the cluster turned out
// not to serve Meta. It gives up early, with the last watch error, once
// every seed answered an attempt with an error (nothing listening, say) or
// a node refused the client for good (UNAUTHENTICATED, PERMISSION_DENIED,
// INVALID_ARGUMENT, FAILED_PRECONDITION): waiting longer would only delay
// the same answer. A seed that timed out is no such answer (a busy host
// may be slower than SeedTimeout), so while one did, the watch asks again
// with a longer timeout (seedTimeoutFor) until ctx ends. The watch itself
// goes on in the background. If ctx ends first it returns ctx's error
// joined with the last watch error.
func (w *watcher) waitReady(ctx context.Context) error {
	for {
		select {
		case <-w.ready:
			return nil
		case <-w.ctx.Done():
			return errors.New("topology: closed")
		case <-w.failed:
			b := w.lastErr.Load()
			if b == nil || b.err == nil {
				continue
			}
			if permanent(b.err) || w.refused.Load() {
				return b.err
			}
		case <-ctx.Done():
			if b := w.lastErr.Load(); b != nil && b.err != nil {
				return errors.Join(ctx.Err(), b.err)
			}
			return ctx.Err()
		}
	}
}

// permanent reports errors that retrying the same request cannot cure,
// FAILED_PRECONDITION among them: a node that does not speak the client's
// protocol (interceptors.ProtocolMismatch).
func permanent(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnauthenticated, connect.CodePermissionDenied, connect.CodeInvalidArgument, connect.CodeFailedPrecondition:
		return true
	}
	return false
}

// watchAddr is the i-th address in the rotation: seeds first, then nodes
// the view knows that are not seeds, so a watch survives the loss of every
// seed. Suspect addresses are passed over unless all are.
func (w *watcher) watchAddr(i int) string {
	cands := w.seeds
	if addrs := w.r.viewAddrs(); addrs != nil {
		for _, a := range addrs {
			if !contains(w.seeds, a) {
				cands = append(slices.Clip(cands), a)
			}
		}
	}
	for j := range len(cands) {
		if a := cands[(i+j)%len(cands)]; !w.r.isSuspect(a) {
			return a
		}
	}
	return cands[i%len(cands)]
}

// run is the watch loop: open a stream, apply what it sends, and on its end
// reconnect to the next address after a backoff (long if Meta is
// unimplemented). A refresh request restarts a healthy stream, whose first
// message is the current view.
func (w *watcher) run() {
	defer w.wg.Done()
	attempt := 0
	slow := 0 // attempts in a row that timed out with no view
	for i := 0; ; i++ {
		select { // a new stream's first message is fresh: drop stale requests
		case <-w.refresh:
		default:
		}
		// Until a view arrives, ask every seed at once: the first to
		// answer wins, and a hung seed delays nothing.
		addrs := w.seeds
		if w.r.hasView() {
			addrs = []string{w.watchAddr(i)}
		}
		res := w.watchOnce(w.ctx, addrs, w.watch, w.seedTimeoutFor(slow))
		if w.ctx.Err() != nil {
			return
		}
		got, err := res.got, res.err
		if got {
			attempt, slow = 0, 0
		}
		if res.refreshed {
			continue
		}
		w.lastErr.Store(&errBox{err})
		unimplemented := connect.CodeOf(err) == connect.CodeUnimplemented
		if !got && !unimplemented { // UNIMPLEMENTED makes the client ready: no Meta to wait for
			if res.timedOut > 0 {
				slow++
			}
			w.refused.Store(res.timedOut == 0)
			select {
			case w.failed <- struct{}{}:
			default:
			}
		}
		bo := w.reconnect
		var delay time.Duration
		if unimplemented {
			w.noMeta.Store(true)
			w.markReady()
			bo = w.unimplemented
			delay = bo.Policy().Delay(0) // flat: no growth
			w.log.Debug("norikv: cluster watch unimplemented; routing by seeds and hints", "addrs", addrs, "retry_in", delay)
		} else {
			delay = bo.Policy().Delay(attempt)
			attempt++
			w.log.Debug("norikv: cluster watch ended", "addrs", addrs, "err", err, "retry_in", delay, "policy", bo.Policy().Name)
		}
		if bo.SleepFor(w.ctx, delay) != nil {
			return
		}
	}
}

// fetchOnce asks every seed at once for the cluster view and applies the
// first that arrives; the others are closed. It is Connect without the
// background watch. It returns nil once a view is applied, else the
// error of the seeds. Like waitReady it asks again, with a longer
// per-seed timeout, while a seed timed out and ctx has time left; seeds
// that all answered with an error end it at once.
func (w *watcher) fetchOnce(ctx context.Context) error {
	if w.watch == nil {
		return errors.New("topology: no WatchFunc configured")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(w.ctx, cancel)()
	one := func(ctx context.Context, addr string, onView func(*v1.ClusterView)) error {
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		return w.watch(ctx, addr, func(v *v1.ClusterView) {
			onView(v)
			cancel()
		})
	}
	var err error
	for slow := 0; ; slow++ {
		res := w.watchOnce(ctx, w.seeds, one, w.seedTimeoutFor(slow))
		if res.got {
			return nil
		}
		err = res.err
		if res.timedOut == 0 || ctx.Err() != nil {
			break
		}
		// The attempt itself took a seed timeout: no backoff needed.
	}
	if connect.CodeOf(err) == connect.CodeUnimplemented {
		w.noMeta.Store(true)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return errors.Join(cerr, err)
	}
	return err
}

// maxSeedTimeoutDoublings caps seedTimeoutFor at 8× SeedTimeout (10 s at
// the client's default 1.25 s).
const maxSeedTimeoutDoublings = 3

// seedTimeoutFor is the per-stream timeout of a watch attempt after slow
// attempts in a row timed out: SeedTimeout doubled each time, so a host
// slower than SeedTimeout still gets its view across attempts while a
// hung node is still given up on.
func (w *watcher) seedTimeoutFor(slow int) time.Duration {
	d := w.seedTimeout
	for range min(slow, maxSeedTimeoutDoublings) {
		if d > math.MaxInt64/2 {
			break // a timeout of centuries: doubling would wrap negative
		}
		d *= 2
	}
	return d
}

// watchRound is the outcome of one watchOnce.
type watchRound struct {
	got       bool  // a view was applied
	refreshed bool  // the watch was ended on purpose by a refresh request
	timedOut  int   // streams closed for sending no view within the timeout
	err       error // the winning stream's end, else the streams' (firstError)
}

// watchOnce opens a stream to each of addrs at once. The first to deliver
// a view becomes the watch and the others are closed; a stream with no view
// within timeout is closed and its node marked suspect. It returns when the
// winning stream ends, or when all ended without a view.
func (w *watcher) watchOnce(parent context.Context, addrs []string, watch WatchFunc, timeout time.Duration) watchRound {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	started := time.Now()
	var byRefresh atomic.Bool
	done := make(chan struct{})
	w.wg.Go(func() {
		for {
			select {
			case <-w.refresh:
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
	})
	var (
		winner  atomic.Int32 // index of the stream that delivered first, or -1
		applied atomic.Bool
		slow    atomic.Int32
		errs    = make([]error, len(addrs))
		cancels = make([]context.CancelFunc, len(addrs))
		ctxs    = make([]context.Context, len(addrs))
		streams sync.WaitGroup
	)
	winner.Store(-1)
	for i := range addrs {
		ctxs[i], cancels[i] = context.WithCancel(ctx) //nolint:fatcontext // one ctx per seed, each a child of ctx, none nested
	}
	for i, addr := range addrs {
		streams.Go(func() {
			defer cancels[i]()
			var timedOut atomic.Bool
			timer := time.AfterFunc(timeout, func() {
				if winner.Load() != int32(i) {
					timedOut.Store(true)
					cancels[i]()
				}
			})
			defer timer.Stop()
			drop := &epochDrop{w: w}
			defer drop.stop()
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
				w.watching.Store(true)
				if w.offer(v, false) == unsure {
					drop.hold(v)
				} else {
					drop.clear()
				}
			})
			if timedOut.Load() {
				slow.Add(1)
				errs[i] = connect.NewError(connect.CodeDeadlineExceeded,
					fmt.Errorf("no cluster view from %s within %v", addr, timeout))
				w.r.Suspect(-1, addr)
			}
		})
	}
	streams.Wait()
	w.watching.Store(false)
	close(done)
	res := watchRound{refreshed: byRefresh.Load(), timedOut: int(slow.Load())}
	if w := winner.Load(); w >= 0 {
		res.got, res.err = applied.Load(), errs[w]
	} else {
		res.err = firstError(errs)
	}
	return res
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

// epochDrop is one watch stream's view below the client's epoch that no
// incarnation explains (verdict unsure): a node lagging behind, or a
// cluster that restarted and lost its epoch. If the stream still holds
// such a view dropGrace after the first one, with no view since that was
// newer or equal to the client's, the latest is adopted (offer with
// force). A lagging node catches up well within that; a restarted cluster
// does not.
type epochDrop struct {
	w       *watcher
	mu      sync.Mutex
	view    *v1.ClusterView // the stream's latest unsure view; nil: none
	timer   *time.Timer     // running while view is held
	stopped bool            // the stream ended
}

// hold records v, starting the grace period if it is not running.
func (d *epochDrop) hold(v *v1.ClusterView) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.stopped {
		return
	}
	d.view = v
	if d.timer == nil {
		d.w.wg.Add(1)
		d.timer = time.AfterFunc(d.w.dropGrace, d.fire)
	}
}

// clear forgets the held view: the stream sent one that was not below the
// client's.
func (d *epochDrop) clear() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.view = nil
	d.stopTimer()
}

// stop ends the tracking with the stream: a drop the stream did not hold
// for the whole grace period proves nothing.
func (d *epochDrop) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopped = true
	d.view = nil
	d.stopTimer()
}

// stopTimer stops a pending timer. Caller holds mu.
func (d *epochDrop) stopTimer() {
	if d.timer != nil && d.timer.Stop() {
		d.w.wg.Done() // fire will not run
	}
	d.timer = nil
}

func (d *epochDrop) fire() {
	defer d.w.wg.Done()
	d.mu.Lock()
	v := d.view
	d.view, d.timer = nil, nil
	stopped := d.stopped
	d.mu.Unlock()
	if v != nil && !stopped && d.w.ctx.Err() == nil {
		d.w.offer(v, true)
	}
}
