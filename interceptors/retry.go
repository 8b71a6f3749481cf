package interceptors

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/backoff"
)

// RetryPolicy configures the Retry interceptor. Zero fields take the
// defaults noted on each.
type RetryPolicy struct {
	// MaxAttempts bounds attempts per call, the first included. Default 5;
	// 1 disables retries (NOT_LEADER redirects still happen). The delays
	// between them are backoff.CallRetry's unless set below.
	MaxAttempts int
	// InitialDelay is the first backoff. Default 50ms. Each further retry
	// doubles it, up to MaxDelay.
	InitialDelay time.Duration
	// MaxDelay caps one backoff. Default 2s.
	MaxDelay time.Duration
	// Jitter adds a uniform random [0, Jitter) to each backoff. Default
	// 100ms; negative disables.
	Jitter time.Duration
	// Timeout bounds the whole call, retries included, unless the caller's
	// ctx has an earlier deadline. 0: no bound beyond ctx.
	Timeout time.Duration
	// AttemptTimeout bounds one attempt; an attempt that hits it is
	// retried. 0: none.
	AttemptTimeout time.Duration
	// MaxRedirects bounds NOT_LEADER redirects per call: replies for which
	// the router named the node to go to next. They are followed at once,
	// without backoff, and do not count as attempts. A NOT_LEADER reply
	// with nowhere to go is retried like any UNAVAILABLE. Default 3.
	MaxRedirects int
	// BudgetRatio is the share of requests that may be retried: every
	// request earns BudgetRatio tokens, every retry spends one. Default
	// 0.2; negative disables the budget.
	BudgetRatio float64
	// BudgetFloor is the retries allowed before any traffic earned them,
	// and the bucket's minimum capacity. Default 10.
	BudgetFloor int
	// Session, if set, gives writes without an idempotency key an
	// automatic session key when the cluster announces client sessions
	// (see Session). Without one, or against other clusters, such writes
	// go without a key.
	Session *Session
}

func (p RetryPolicy) withDefaults() RetryPolicy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 5
	}
	// The delays are backoff.CallRetry's unless set.
	bo := backoff.Policy{Initial: p.InitialDelay, Max: p.MaxDelay, Jitter: p.Jitter}.Or(backoff.CallRetry)
	p.InitialDelay, p.MaxDelay, p.Jitter = bo.Initial, bo.Max, bo.Jitter
	if p.MaxRedirects <= 0 {
		p.MaxRedirects = 3
	}
	if p.BudgetRatio == 0 {
		p.BudgetRatio = 0.2
	}
	if p.BudgetFloor <= 0 {
		p.BudgetFloor = 10
	}
	return p
}

// RetryStats are the Retry interceptor's counters since it was made.
type RetryStats struct {
	Requests        uint64 // calls started
	Retries         uint64 // attempts after a backoff
	Redirects       uint64 // attempts after a NOT_LEADER hint
	Failures        uint64 // calls that returned an error
	BudgetExhausted uint64 // retries refused by the budget
	BudgetTokens    int    // retries the budget would allow now
	// BackoffPolicy names the policy that paces retries ("CallRetry"),
	// and BackoffTime is the time calls spent in it.
	BackoffPolicy string
	BackoffTime   time.Duration
}

// Retry is the retry interceptor. It retries UNAVAILABLE, ABORTED,
// RESOURCE_EXHAUSTED, an attempt's own timeout and connection failures
// with exponential backoff and jitter, within MaxAttempts, the retry
// budget and the caller's ctx; it follows NOT_LEADER hints at once. Other
// codes (INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS,
// UNAUTHENTICATED, PERMISSION_DENIED, ...) are returned as they are.
//
// Only calls that are safe to repeat are retried: methods the schema
// declares NO_SIDE_EFFECTS or IDEMPOTENT, and requests that carry an
// idempotency key, which the server applies once however many attempts
// reach it. A write whose message has an empty idempotency_key field gets
// an automatic session key from RetryPolicy.Session when the cluster
// announces client sessions: it is sent as a shallow copy carrying the
// key, the same on every attempt; the caller's message is never modified,
// so it may be sent again (a new write) or shared between goroutines.
// Otherwise the write goes without a key (servers that do not announce
// sessions may keep every key forever), and like any other call of
// unknown idempotency it is tried once, except that a NOT_LEADER reply or
// a failure to connect, which prove the node did not apply it, are
// retried as for any call. A write without a key that fails in a way that
// does not prove it was not applied (a timeout, a dropped connection,
// UNAVAILABLE) returns an error matching ErrOutcomeUnknown.
//
// Place it inside Errors and outside Routing, so each attempt is routed
// afresh. Whether a NOT_LEADER reply is redirected at once is the
// router's decision, which Routing hands back on the attempt's error:
// Retry redirects only when the router named somewhere to go, and
// otherwise retries after a backoff. Without Routing inside it, a
// NOT_LEADER reply is an UNAVAILABLE like any other.
type Retry struct {
	p      RetryPolicy
	bo     *backoff.Backoffer // backoff.CallRetry, with p's delays
	budget *backoff.Budget

	requests, retries, redirects, failures, exhausted atomic.Uint64
}

// NewRetry returns a Retry interceptor for p.
func NewRetry(p RetryPolicy) *Retry {
	p = p.withDefaults()
	r := &Retry{p: p, bo: backoff.New(backoff.Policy{Name: backoff.CallRetry.Name, Initial: p.InitialDelay, Max: p.MaxDelay, Jitter: p.Jitter})}
	if p.BudgetRatio > 0 {
		r.budget = backoff.NewBudget(p.BudgetRatio, p.BudgetFloor, max(p.BudgetFloor, 100))
	}
	return r
}

// Policy returns the policy in force, defaults filled in.
func (r *Retry) Policy() RetryPolicy { return r.p }

// Stats returns the counters.
func (r *Retry) Stats() RetryStats {
	return RetryStats{
		Requests:        r.requests.Load(),
		Retries:         r.retries.Load(),
		Redirects:       r.redirects.Load(),
		Failures:        r.failures.Load(),
		BudgetExhausted: r.exhausted.Load(),
		BudgetTokens:    r.budget.Tokens(),
		BackoffPolicy:   r.bo.Policy().Name,
		BackoffTime:     r.bo.Stats().Slept,
	}
}

// WrapUnary implements connect.Interceptor.
func (r *Retry) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		r.requests.Add(1)
		if !earned(ctx) {
			r.budget.Deposit()
		}
		// The call's own deadline, if it is earlier than ctx's. It is
		// armed only if an attempt fails (call.arm): the first attempt's
		// deadline is the earlier of it and the attempt's, one timer
		// instead of two on the path nearly every call takes.
		var call callDeadline
		if r.p.Timeout > 0 {
			if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > r.p.Timeout {
				call.at = time.Now().Add(r.p.Timeout)
				defer call.release()
			}
		}
		safe := idempotent(req.Spec().IdempotencyLevel)
		msg, k := withIdempotencyKey(ctx, req.Any(), r.p.Session)
		if k.seq != 0 {
			defer r.p.Session.Done(k.seq)
			observeStamped(ctx)
		}
		if k.write && !k.keyed {
			observeUnkeyed(ctx)
		}
		if msg != req.Any() {
			// The keyed copy goes out in the caller's *connect.Request for
			// this call only; the caller's message comes back before
			// Errors (outside) or the caller see the request again.
			if f, ok := msgField(req); ok {
				orig := reflect.ValueOf(req.Any())
				f.Set(reflect.ValueOf(msg))
				defer f.Set(orig)
				safe = true
			}
		} else if k.keyed {
			safe = true
		}
		res, err := r.loop(ctx, &call, req, next, safe)
		if err != nil && k.write && !safe && Retryable(err) && !NotApplied(err) {
			err = OutcomeUnknown(ctx, err)
		}
		if err != nil && !lostRace(ctx) {
			r.failures.Add(1)
		}
		return res, err
	}
}

// callDeadline is a call's own deadline (Timeout) before it is armed: a
// time, folded into the first attempt's deadline, and a timer-backed ctx
// only once an attempt has failed.
type callDeadline struct {
	at     time.Time // zero: none, or armed
	cancel context.CancelFunc
}

// attempt returns the deadline of an attempt while the call's is not
// armed: the earlier of the call's and now + attemptTimeout (if > 0).
func (c *callDeadline) attempt(attemptTimeout time.Duration) (time.Time, bool) {
	if c.at.IsZero() {
		return time.Time{}, false
	}
	if attemptTimeout > 0 {
		if a := time.Now().Add(attemptTimeout); a.Before(c.at) {
			return a, true
		}
	}
	return c.at, true
}

// arm returns ctx bounded by the call's deadline, from now on the ctx of
// the call's backoffs and later attempts; ctx itself once armed.
func (c *callDeadline) arm(ctx context.Context) context.Context {
	if c.at.IsZero() {
		return ctx
	}
	ctx, c.cancel = context.WithDeadline(ctx, c.at)
	c.at = time.Time{}
	return ctx
}

func (c *callDeadline) release() {
	if c.cancel != nil {
		c.cancel()
	}
}

// idempotent reports whether the schema declares a method safe to repeat.
func idempotent(l connect.IdempotencyLevel) bool {
	return l == connect.IdempotencyNoSideEffects || l == connect.IdempotencyIdempotent
}

// loop runs the attempts. safe says the call may be repeated after any
// retryable failure; otherwise only after one that proves the node did not
// apply it.
func (r *Retry) loop(ctx context.Context, call *callDeadline, req connect.AnyRequest, next connect.UnaryFunc, safe bool) (connect.AnyResponse, error) {
	redirects, attempt := 0, 0
	to := "" // where the router redirects the next attempt
	at := r.attemptTimeout(ctx)
	for {
		actx, cancel := ctx, context.CancelFunc(nil)
		if to != "" {
			// The redirect goes where the router said, not where Routing
			// would route afresh: that skips a leader held suspect (a
			// watch that timed out under load), and would send the
			// attempt to another follower, which names the same leader.
			actx, to = withRedirect(ctx, to), ""
		}
		switch dl, ok := call.attempt(at); {
		case ok:
			actx, cancel = context.WithDeadline(actx, dl)
		case at > 0:
			actx, cancel = context.WithTimeout(actx, at)
		}
		res, err := next(actx, req)
		if cancel != nil {
			cancel()
		}
		if err == nil {
			return res, nil
		}
		// From here on ctx carries the call's deadline, as a timer.
		ctx = call.arm(ctx) //nolint:fatcontext // arm wraps ctx once: it clears call.at, so later turns return ctx as is
		rd, notLeader := redirectOf(err)
		if notLeader {
			err = rd.err // the reply itself goes back, not the router's note on it
		}
		if ctx.Err() != nil {
			return nil, ctxError(ctx, err)
		}
		if notLeader && rd.to != "" && redirects < r.p.MaxRedirects {
			redirects++
			to = rd.to
			r.redirects.Add(1)
			observeRedirect(ctx)
			continue
		}
		if !notLeader && (!Retryable(err) || !safe && !notSent(err)) {
			return nil, err
		}
		if attempt+1 >= r.p.MaxAttempts || oneAttempt(ctx) {
			return nil, err
		}
		allowed, serr := r.spendRetry(ctx, attempt)
		if !allowed {
			return nil, err
		}
		if serr != nil {
			return nil, ctxError(ctx, err)
		}
		attempt++
	}
}

// spendRetry is the cost of one retry, inside the loop or decided outside
// it (AllowRetry): a budget token (allowed false, counted as
// BudgetExhausted, if there is none), then the backoff for attempt, which
// returns ctx's error if ctx ends first.
func (r *Retry) spendRetry(ctx context.Context, attempt int) (allowed bool, err error) {
	if !r.budget.Withdraw() {
		r.exhausted.Add(1)
		observeBudgetRejected(ctx)
		return false, nil
	}
	r.retries.Add(1)
	observeRetry(ctx)
	return true, r.bo.Sleep(ctx, attempt)
}

// ctxError is the error for a call whose ctx ended: it matches the ctx's
// error with errors.Is and keeps the last attempt's error, on the same
// line: "context deadline exceeded: unavailable: ...".
func ctxError(ctx context.Context, last error) error {
	cerr := ctx.Err()
	if errors.Is(last, cerr) {
		return last
	}
	return connect.NewError(ctxCode(cerr), fmt.Errorf("%w: %w", cerr, last))
}

// Retryable reports whether a failed attempt may be retried: UNAVAILABLE,
// ABORTED, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED (an attempt's own
// timeout; the caller's ctx is checked separately) and connection
// failures.
func Retryable(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeUnavailable, connect.CodeAborted, connect.CodeResourceExhausted, connect.CodeDeadlineExceeded:
		return true
	case connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeFailedPrecondition,
		connect.CodeAlreadyExists, connect.CodeUnauthenticated, connect.CodePermissionDenied:
		return false
	}
	return IsConnectionFailure(err)
}

// WrapStreamingClient implements connect.Interceptor; streams pass through.
func (r *Retry) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

// WrapStreamingHandler implements connect.Interceptor; streams pass through.
func (r *Retry) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
