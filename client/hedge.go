package norikv

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/backoff"
	"github.com/norikv/norikv-go/internal/wire"
)

// Hedged stale reads. A stale_ok Get may be served by any replica of its
// shard; the Router already sends it to the fastest one it knows
// (internal/topology/latency.go), but a replica turns slow between one
// read and the next. So a stale_ok Get still waiting after the hedge
// delay is sent again, to another replica (the Routing interceptor avoids
// the first request's node: interceptors.Hedge); the first answer wins and
// the other request is cancelled, which also teaches the Router that its
// node was at least that slow.
//
// The delay is Config.StaleReads.HedgeDelay, or the tracked 99th
// percentile of recent stale reads: on a healthy cluster about 1 read in
// 100 is hedged. The hedge budget (a token bucket: every hedgeable Get
// earns HedgeBudget tokens, a hedge spends one) caps the extra requests
// when every replica is slow, where hedging cannot help. Hedges are
// counted in Stats.Hedges; with an Observer, both requests are attempts
// of one call and the hedge's reason is AttemptHedge.

const (
	// defaultHedgeBudget is StaleReadConfig.HedgeBudget's default.
	defaultHedgeBudget = 0.05
	// hedgeBudgetFloor is the hedges a fresh client may send before
	// traffic earned any; hedgeBudgetMax the most it saves up.
	hedgeBudgetFloor, hedgeBudgetMax = 5, 20
	// minHedgeDelay is the tracked delay's floor: under it a hedge is
	// sent before most networks could have answered.
	minHedgeDelay = time.Millisecond
	// initialHedgeDelay is the tracked delay before any read completed.
	initialHedgeDelay = 10 * time.Millisecond
	// hedgeQuantileStep is how far one read moves the tracked quantile:
	// up by 5% after a read slower than it, down by 5%/99 after a faster
	// one, so it settles where 1 read in 100 is slower (the 99th
	// percentile) and follows a change within a few hundred reads.
	hedgeQuantileStep = 20 // 1/20 = 5%
	hedgeQuantileOdds = 99 // p99: 99 faster reads for 1 slower
)

// hedger is the client's hedging state.
type hedger struct {
	on     bool          // Config.StaleReads: hedging unless a call says otherwise
	fixed  time.Duration // Config.StaleReads.HedgeDelay; 0 tracks quantile
	budget *backoff.Budget

	quantile atomic.Int64 // tracked p99 of stale reads, ns

	sent, won, refused atomic.Uint64
}

func newHedger(cfg StaleReadConfig) *hedger {
	ratio := cfg.HedgeBudget
	if ratio == 0 {
		ratio = defaultHedgeBudget
	}
	h := &hedger{on: !cfg.DisableHedging, fixed: cfg.HedgeDelay, budget: backoff.NewBudget(ratio, hedgeBudgetFloor, hedgeBudgetMax)}
	h.quantile.Store(int64(initialHedgeDelay))
	return h
}

// delay is how long a read waits before its hedge.
func (h *hedger) delay() time.Duration {
	if h.fixed > 0 {
		return h.fixed
	}
	return max(minHedgeDelay, time.Duration(h.quantile.Load()))
}

// observe moves the tracked quantile by one read's latency (a lower bound
// for a read cancelled because its hedge won). Load-then-store: a lost
// update among concurrent reads only slows the estimate a little.
func (h *hedger) observe(d time.Duration) {
	q := h.quantile.Load()
	if int64(d) > q {
		q += q/hedgeQuantileStep + 1
	} else {
		q -= q / (hedgeQuantileStep * hedgeQuantileOdds)
	}
	h.quantile.Store(min(max(q, int64(50*time.Microsecond)), int64(time.Minute)))
}

// hedgeWanted reports whether a Get with opts, built into o, is hedged:
// a stale_ok read, with the shard count known (the read's replicas come
// from the view), and hedging on for the client or this call.
func (c *Client) hedgeWanted(o *op, opts []GetOption) bool {
	if o.getReq.Get.GetConsistency() != wire.StaleOK.Spelling() || c.router.TotalShards() == 0 {
		return false
	}
	on := c.hedger.on
	for _, opt := range opts {
		if v, ok := opt.(hedgingOption); ok {
			on = bool(v)
		}
	}
	return on
}

// answered reports whether a read's outcome is an answer to keep: a value
// or "not found". Anything else (a failure, a cancellation) waits for the
// other request, if there is one.
func answered(err error) bool { return err == nil || errors.Is(err, ErrKeyNotFound) }

// getHedged runs the stale_ok Get o: first request on this goroutine, the
// hedge, if the first is still waiting after the delay and the budget
// allows, from a timer. It returns when the read has its answer and both
// requests have ended (the loser is cancelled, so that is at once).
func (c *Client) getHedged(ctx context.Context, o *op) error {
	h := c.hedger
	h.budget.Deposit()
	end := func(error, bool) {}
	if obs := c.cfg.Observer; obs != nil {
		ctx, end = interceptors.StartHedgedCall(ctx, obs, c.router, norikvv1connect.KvGetProcedure, o.getReq.Get)
	}
	r := &hedgedRead{c: c, ctx: ctx, start: time.Now(), first: o, hedged: make(chan struct{})}
	var fctx context.Context
	fctx, r.fcancel = context.WithCancel(interceptors.WithHedge(ctx, &r.race, false))
	defer r.fcancel()
	timer := time.AfterFunc(h.delay(), r.hedge)
	c.unary(fctx, o)
	if ctx.Err() == nil {
		h.observe(time.Since(r.start))
	}
	if !timer.Stop() {
		r.mu.Lock()
		if !r.settled && answered(o.err) {
			r.settled = true
			if r.hcancel != nil {
				r.race.Lost(true)
				r.hcancel()
			}
		}
		r.mu.Unlock()
		<-r.hedged
		if r.hedgeWon {
			h.won.Add(1)
			o.get, o.err = r.second.get, r.second.err
		}
	}
	end(o.err, r.hedgeWon)
	return o.err
}

// hedgedRead is one hedged Get's state, in one allocation.
type hedgedRead struct {
	c       *Client
	ctx     context.Context // the call's
	start   time.Time       // the read's
	first   *op
	fcancel context.CancelFunc // the first request's
	race    interceptors.Hedge
	hedged  chan struct{} // closed when hedge has returned

	mu       sync.Mutex
	settled  bool               // an answer is taken
	hedgeWon bool               // it is the hedge's
	hcancel  context.CancelFunc // the hedge's, once sent
	second   op                 // the hedge's request and result
}

// hedge is the timer's function: it sends the hedge unless the read has
// its answer or the budget is spent, and if the hedge answers first, takes
// its answer and cancels the first request.
func (r *hedgedRead) hedge() {
	defer close(r.hedged)
	h := r.c.hedger
	r.mu.Lock()
	if r.settled {
		r.mu.Unlock()
		return
	}
	if !h.budget.Withdraw() {
		h.refused.Add(1)
		r.mu.Unlock()
		return
	}
	hctx := interceptors.WithHedge(r.ctx, &r.race, true)
	// Config.Timeout bounds the read from its start, not the hedge's.
	if t := r.c.cfg.timeout(); t > 0 {
		if dl, ok := hctx.Deadline(); !ok || dl.After(r.start.Add(t)) {
			hctx, r.hcancel = context.WithDeadline(hctx, r.start.Add(t))
		}
	}
	if r.hcancel == nil {
		hctx, r.hcancel = context.WithCancel(hctx)
	}
	ho := &r.second
	ho.kind = opGet
	ho.getReq.Get = r.first.getReq.Get // read-only: both requests send it
	ho.req.Op = &ho.getReq
	h.sent.Add(1)
	r.mu.Unlock()
	defer r.hcancel()
	r.c.unary(hctx, ho)
	r.mu.Lock()
	if !r.settled && answered(ho.err) {
		r.settled, r.hedgeWon = true, true
		r.race.Lost(false)
		r.fcancel()
	}
	r.mu.Unlock()
}
