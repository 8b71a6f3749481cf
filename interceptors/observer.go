package interceptors

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/wire"
)

// Observer receives the events of every unary call and of each of its
// attempts: what a tracer or a metrics library needs, without the SDK
// depending on one (the norikvotel module implements it for
// OpenTelemetry). Its methods are called synchronously on the call's
// goroutine, so they must be quick and must not block; they may be called
// concurrently for different calls, and, for a batch, for attempts of the
// same call.
//
// A call is what the user asked for: one SDK method call, retries and
// redirects included. A batch of N operations is one call with
// Call.Operations = N, however many RPCs it needs (see StartCall).
type Observer interface {
	// CallStart is called before the first attempt. The ctx it returns
	// (ctx itself, or one carrying a span) is the one the call's attempts
	// and CallEnd receive.
	CallStart(ctx context.Context, call *Call) context.Context
	// CallEnd is called once the call has its outcome; call's result
	// fields are set.
	CallEnd(ctx context.Context, call *Call)
	// AttemptStart is called before each attempt goes to its node. The
	// returned ctx is the attempt's: it reaches AttemptEnd and the
	// interceptors from Config.Interceptors. It may add headers (trace
	// context) to a.Header.
	AttemptStart(ctx context.Context, call *Call, a *Attempt) context.Context
	// AttemptEnd is called when the attempt has its answer; a's result
	// fields are set.
	AttemptEnd(ctx context.Context, call *Call, a *Attempt)
}

// Call describes one SDK call to an Observer. The observer must not modify
// it nor keep Key after CallEnd returns.
type Call struct {
	// Procedure is the RPC, "/norikv.v1.Kv/Put"; for a batch, the one its
	// RPCs use.
	Procedure string
	// Operation is the SDK's name: "Put", "VectorSearch" (OperationName).
	Operation string
	// Operations is how many operations the call carries: 1, or a batch's
	// size.
	Operations int
	// Shard is the key's (or namespace's) shard, or -1 when unknown (the
	// shard count is not learnt yet) or when the call spans shards.
	Shard int
	// Consistency is a read's consistency as sent ("" for the default and
	// for writes).
	Consistency string
	// Key is the key, nil for a batch and for calls without one. Opt-in
	// telemetry may record it; it is the caller's bytes, read-only.
	Key []byte
	// IdempotencyKeyStamped: the SDK gave the write an automatic
	// idempotency key (a session key: the caller set none and the cluster
	// announces client sessions), so its retries are applied once.
	IdempotencyKeyStamped bool
	// Unkeyed: a write sent with no idempotency key at all (the caller set
	// none and the cluster does not announce client sessions); it is
	// retried only after failures that prove it was not applied.
	Unkeyed bool
	// Start is when the call began.
	Start time.Time

	// The result, set before CallEnd.

	// Code is the outcome: 0 for success, else the error's code.
	Code connect.Code
	// Err is the call's error, nil on success.
	Err error
	// Duration is the call's wall time, retries and backoff included.
	Duration time.Duration
	// Attempts counts the attempts sent, redirects included.
	Attempts int
	// Retries counts attempts made after a backoff.
	Retries int
	// Redirects counts attempts made after a NOT_LEADER hint.
	Redirects int
	// BudgetRejected: a retry was refused by the retry budget, and the
	// call failed with the last attempt's error.
	BudgetRejected bool
	// Hedged: a stale read's hedge was sent (its attempts have the reason
	// AttemptHedge), and HedgeWon: its answer is the call's; the first
	// request was then cancelled.
	Hedged, HedgeWon bool
}

// callState is a Call with the counters its attempts update, concurrently
// for a batch's RPCs; they are copied into the Call for CallEnd.
type callState struct {
	Call
	attempts, retries, redirects atomic.Int32
	budget, hedged               atomic.Bool
	// stamped and unkeyed are set by Retry, concurrently for a batch's
	// RPCs (observeStamped, observeUnkeyed).
	stamped, unkeyed atomic.Bool
}

// AttemptReason says why an attempt was made.
type AttemptReason int

const (
	// AttemptFirst is a call's first attempt (for a batch, each RPC's).
	AttemptFirst AttemptReason = iota
	// AttemptRetry follows a retryable failure, after a backoff.
	AttemptRetry
	// AttemptRedirect follows a NOT_LEADER reply, to the leader it named.
	AttemptRedirect
	// AttemptHedge is a hedged stale read's second request, sent to
	// another replica while the first was still waiting.
	AttemptHedge
)

// String returns "first", "retry", "redirect" or "hedge".
func (r AttemptReason) String() string {
	switch r {
	case AttemptRetry:
		return "retry"
	case AttemptRedirect:
		return "redirect"
	case AttemptHedge:
		return "hedge"
	}
	return "first"
}

// Attempt describes one attempt of a call to an Observer.
type Attempt struct {
	// N numbers the call's attempts from 1.
	N int
	// Node is the host:port the attempt goes to ("" for a request the
	// base URL serves).
	Node string
	// Shard is the attempt's shard, -1 if unknown.
	Shard int
	// Reason is why the attempt was made.
	Reason AttemptReason
	// Procedure is the attempt's RPC.
	Procedure string
	// Header is the request's header: AttemptStart may set trace context
	// in it.
	Header http.Header
	// Start is when the attempt began.
	Start time.Time

	// The result, set before AttemptEnd.

	// Code is 0 for success, else the error's code.
	Code connect.Code
	// Err is the attempt's error, nil on success.
	Err error
	// Duration is the attempt's time on the wire.
	Duration time.Duration
	// NotLeader: the node answered NOT_LEADER.
	NotLeader bool
	// Suspect: the attempt timed out without an answer, and the node is
	// now tried last until it answers again.
	Suspect bool
}

// rpcKey is the ctx key of the per-RPC state the observing interceptors
// and the Retry interceptor share.
type rpcKey struct{}

// rpcState is one RPC of a call: the call itself, or one RPC of a batch.
type rpcState struct {
	call *callState
	next AttemptReason // why the next attempt is made; set by Retry
}

// callKey carries a batch's Call, which its RPCs' attempts join.
type callKey struct{}

func rpcFrom(ctx context.Context) *rpcState {
	s, _ := ctx.Value(rpcKey{}).(*rpcState)
	return s
}

// observeRetry, observeRedirect and observeBudgetRejected are the Retry
// interceptor's hooks. Without an observer the ctx holds no state and they
// cost a ctx lookup, on the retry path only.
func observeRetry(ctx context.Context) {
	if s := rpcFrom(ctx); s != nil {
		s.next = AttemptRetry
		s.call.retries.Add(1)
	}
}

func observeRedirect(ctx context.Context) {
	if s := rpcFrom(ctx); s != nil {
		s.next = AttemptRedirect
		s.call.redirects.Add(1)
	}
}

// observeUnkeyed marks the call as a write sent without a key.
func observeUnkeyed(ctx context.Context) {
	if s := rpcFrom(ctx); s != nil {
		s.call.unkeyed.Store(true)
	}
}

// observeStamped marks the call as a write Retry stamped.
func observeStamped(ctx context.Context) {
	if s := rpcFrom(ctx); s != nil {
		s.call.stamped.Store(true)
	}
}

func observeBudgetRejected(ctx context.Context) {
	if s := rpcFrom(ctx); s != nil {
		s.call.budget.Store(true)
	}
}

// Observe returns the two interceptors that report to o: calls goes
// outermost (before Errors, so a call refused by validation is observed
// too) and attempts right after Routing (it reads the node Routing
// chose). r is the Router, for the shard of each call. The norikv client
// adds them when Config.Observer is set, and only then: without an
// observer the chain is what it always was.
func Observe(o Observer, r Router) (calls, attempts connect.Interceptor) {
	return callObserver{o: o, r: r}, attemptObserver{o: o, r: r}
}

// StartCall reports the start of a call made of several RPCs, a batch of
// n operations, to o and returns the ctx to make its RPCs with and the
// function that ends it with the batch's error. The RPCs made under ctx
// through an observed chain are not calls of their own: their attempts
// are the batch's.
func StartCall(ctx context.Context, o Observer, procedure string, n int) (context.Context, func(error)) {
	call := &callState{Call: Call{Procedure: procedure, Operation: OperationName(procedure), Operations: n, Shard: -1,
		IdempotencyKeyStamped: stampedKey(ctx), Start: time.Now()}}
	ctx = o.CallStart(ctx, &call.Call)
	ctx = context.WithValue(ctx, callKey{}, call)
	return ctx, func(err error) { endCall(ctx, o, call, err) }
}

// StartHedgedCall is StartCall for a read of msg that may be hedged (r
// gives its shard): the read's requests made under ctx, the first and the
// hedge, are attempts of one call, described as a lone request would be.
// end reports the read's outcome and whether the hedge's answer won.
func StartHedgedCall(ctx context.Context, o Observer, r Router, procedure string, msg any) (_ context.Context, end func(err error, hedgeWon bool)) {
	call := newCallState(ctx, r, procedure, msg)
	ctx = o.CallStart(ctx, &call.Call)
	ctx = context.WithValue(ctx, callKey{}, call)
	return ctx, func(err error, won bool) {
		call.HedgeWon = won
		endCall(ctx, o, call, err)
	}
}

// newCallState describes a call of one request, msg.
func newCallState(ctx context.Context, r Router, procedure string, msg any) *callState {
	call := &callState{Call: Call{
		Procedure:             procedure,
		Operation:             OperationName(procedure),
		Operations:            1,
		Shard:                 shardOrUnknown(msg, r),
		IdempotencyKeyStamped: stampedKey(ctx),
		Start:                 time.Now(),
	}}
	if m, ok := msg.(interface{ GetKey() []byte }); ok {
		call.Key = m.GetKey()
	}
	if m, ok := msg.(interface{ GetConsistency() string }); ok {
		call.Consistency = m.GetConsistency()
	}
	return call
}

func endCall(ctx context.Context, o Observer, call *callState, err error) {
	call.Err = err
	call.Code = codeOf(err)
	call.Duration = time.Since(call.Start)
	call.Attempts = int(call.attempts.Load())
	call.Retries = int(call.retries.Load())
	call.Redirects = int(call.redirects.Load())
	call.BudgetRejected = call.budget.Load()
	call.Hedged = call.hedged.Load()
	// A call refused before its first attempt (validation) sent no key.
	call.IdempotencyKeyStamped = (call.IdempotencyKeyStamped || call.stamped.Load()) && call.Attempts > 0
	call.Unkeyed = call.unkeyed.Load() && call.Attempts > 0
	o.CallEnd(ctx, &call.Call)
}

// codeOf is err's code, 0 for nil.
func codeOf(err error) connect.Code {
	if err == nil {
		return 0
	}
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Code
	}
	return connect.CodeOf(err)
}

type callObserver struct {
	o Observer
	r Router
}

func (co callObserver) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if joined, ok := ctx.Value(callKey{}).(*callState); ok {
			// An RPC of a batch, or a request of a hedged read.
			st := &rpcState{call: joined}
			if hedgeFrom(ctx).isHedge {
				st.next = AttemptHedge
				joined.hedged.Store(true)
			}
			return next(context.WithValue(ctx, rpcKey{}, st), req)
		}
		call := newCallState(ctx, co.r, req.Spec().Procedure, req.Any())
		ctx = co.o.CallStart(ctx, &call.Call)
		res, err := next(context.WithValue(ctx, rpcKey{}, &rpcState{call: call}), req)
		endCall(ctx, co.o, call, err)
		return res, err
	}
}

func (callObserver) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (callObserver) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// shardOrUnknown is msg's shard, or -1 before the shard count is known.
func shardOrUnknown(msg any, r Router) int {
	n := r.TotalShards()
	if n <= 0 {
		return -1
	}
	if shard, _, ok := ShardOf(msg, n); ok {
		return shard
	}
	return -1
}

type stampedCtxKey struct{}

// WithStampedKey marks ctx's call as a write whose idempotency key the
// SDK generated itself (it sets keys in the messages it builds, rather
// than leave them to Retry), so the observer's IdempotencyKeyStamped still
// says so. Only worth calling when an observer is set.
func WithStampedKey(ctx context.Context) context.Context {
	return context.WithValue(ctx, stampedCtxKey{}, true)
}

func stampedKey(ctx context.Context) bool { return ctx.Value(stampedCtxKey{}) != nil }

type attemptObserver struct {
	o Observer
	r Router
}

func (ao attemptObserver) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		s := rpcFrom(ctx)
		if s == nil {
			return next(ctx, req)
		}
		a := &Attempt{
			N:         int(s.call.attempts.Add(1)),
			Node:      TargetFrom(ctx),
			Shard:     shardOrUnknown(req.Any(), ao.r),
			Reason:    s.next,
			Procedure: req.Spec().Procedure,
			Header:    req.Header(),
			Start:     time.Now(),
		}
		if s.call.Shard < 0 && s.call.Operations == 1 {
			s.call.Shard = a.Shard
		}
		actx := ao.o.AttemptStart(ctx, &s.call.Call, a)
		res, err := next(actx, req)
		a.Duration = time.Since(a.Start)
		a.Err = err
		a.Code = codeOf(err)
		if err != nil {
			_, a.NotLeader = wire.ParseNotLeader(err)
			// As Routing decides: no reply within the attempt's deadline.
			a.Suspect = !a.NotLeader && !IsConnectionFailure(err) && errors.Is(ctx.Err(), context.DeadlineExceeded)
		}
		ao.o.AttemptEnd(actx, &s.call.Call, a)
		return res, err
	}
}

func (attemptObserver) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (attemptObserver) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

var (
	_ connect.Interceptor = callObserver{}
	_ connect.Interceptor = attemptObserver{}
)
