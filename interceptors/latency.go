package interceptors

import (
	"context"
	"sync/atomic"
	"time"
)

// ReplicaRouter is implemented by Routers that choose a stale read's
// replica by latency (the norikv client's, and NewRouter's). The Routing
// interceptor uses it, when r implements it, for every stale_ok read:
// RouteReplica instead of Route, and ReadStarted/ReadEnded around the
// attempt to feed the estimate. Leader-bound requests never touch it.
type ReplicaRouter interface {
	// RouteReplica returns the replica of shard a stale read goes to,
	// other than avoid ("" for none) while another can serve it.
	RouteReplica(shard int, avoid string) string
	// ReadStarted records that a stale read goes to addr now.
	ReadStarted(addr string)
	// ReadEnded records the end of that read after elapsed; answered is
	// false when no answer came (cancelled, timed out, not reached), so
	// elapsed is only a lower bound of the node's latency.
	ReadEnded(addr string, elapsed time.Duration, answered bool)
}

// Hedge links the two requests of one hedged stale read (the first, and
// the hedge sent after a delay to another replica): the Routing
// interceptor records the replica the first went to, and sends the hedge
// elsewhere. Make one per read and put it in both requests' ctx with
// WithHedge.
type Hedge struct {
	first atomic.Pointer[string] // the first request's replica, latest attempt
	// loser is the request cancelled because the other answered first:
	// 1 the first, 2 the hedge; 0 while none is.
	loser atomic.Int32
}

type hedgeKey struct{}

// hedgeCtx is the ctx value: the read's Hedge and which of its requests
// this ctx carries.
type hedgeCtx struct {
	h       *Hedge
	isHedge bool
}

// WithHedge returns ctx for one request of the hedged read h: the first
// (isHedge false) or the hedge. The Routing interceptor routes a stale
// read by it, and an Observer sees the hedge's first attempt with the
// reason AttemptHedge.
func WithHedge(ctx context.Context, h *Hedge, isHedge bool) context.Context {
	return context.WithValue(ctx, hedgeKey{}, hedgeCtx{h: h, isHedge: isHedge})
}

// hedgeFrom returns ctx's hedged-read role, zero if none.
func hedgeFrom(ctx context.Context) hedgeCtx {
	hc, _ := ctx.Value(hedgeKey{}).(hedgeCtx)
	return hc
}

// Lost marks a request as the loser, the hedge (hedge true) or the
// first: the other answered first and the loser's ctx is about to be
// cancelled. Retry does not count the loser as a failed call.
func (h *Hedge) Lost(hedge bool) {
	if hedge {
		h.loser.Store(2)
	} else {
		h.loser.Store(1)
	}
}

// lostRace reports whether ctx is the request of a hedged read that lost.
func lostRace(ctx context.Context) bool {
	hc := hedgeFrom(ctx)
	if hc.h == nil {
		return false
	}
	l := hc.h.loser.Load()
	return l == 1 && !hc.isHedge || l == 2 && hc.isHedge
}

// routeStale picks a stale read's replica through rr, away from the
// first request's when this is a hedge, notes it on the read's Hedge,
// and records the start of the read: the caller owes rr a ReadEnded.
func routeStale(ctx context.Context, rr ReplicaRouter, shard int) string {
	hc := hedgeFrom(ctx)
	avoid := ""
	if hc.isHedge {
		if p := hc.h.first.Load(); p != nil {
			avoid = *p
		}
	}
	addr := rr.RouteReplica(shard, avoid)
	if hc.h != nil && !hc.isHedge {
		hc.h.first.Store(&addr)
	}
	rr.ReadStarted(addr)
	return addr
}
