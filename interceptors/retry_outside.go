package interceptors

import (
	"context"
	"time"
)

// AllowRetry is for a retry decided outside the interceptor: the norikv
// client re-sends alone an operation whose batch failed retryably. Such a
// retry must cost what one inside would: it spends a budget token (false,
// and counted as BudgetExhausted, if there is none), is counted in
// Retries, and waits the backoff for attempt (false if ctx ends first).
func (r *Retry) AllowRetry(ctx context.Context, attempt int) bool {
	allowed, err := r.spendRetry(ctx, attempt)
	return allowed && err == nil
}

// Earn credits the retry budget with n more requests than the interceptor
// counted: a Kv.Batch exchange of n+1 operations passes through it as one
// request, and each operation it carries earns what its single call would,
// so a batch's retries are paid for as single calls' are.
func (r *Retry) Earn(n int) { r.budget.DepositN(n) }

type attemptTimeoutKey struct{}

// WithAttemptTimeout makes d, instead of the policy's AttemptTimeout, the
// bound of each attempt of the call made with ctx (when the policy has
// one): an exchange of many operations needs longer than one operation.
func WithAttemptTimeout(ctx context.Context, d time.Duration) context.Context {
	return context.WithValue(ctx, attemptTimeoutKey{}, d)
}

// attemptTimeout is the bound of one attempt of the call made with ctx.
func (r *Retry) attemptTimeout(ctx context.Context) time.Duration {
	if r.p.AttemptTimeout <= 0 {
		return 0
	}
	if d, ok := ctx.Value(attemptTimeoutKey{}).(time.Duration); ok && d > r.p.AttemptTimeout {
		return d
	}
	return r.p.AttemptTimeout
}

type earnedKey struct{}

// WithEarned marks the call made with ctx as one whose share of the retry
// budget was already earned (Earn): the interceptor deposits nothing for
// it. The norikv client marks a batch exchange whose operations earned
// their shares in an earlier exchange, and an operation sent alone after
// its exchange: without the mark each re-send earned again, and retries
// could exceed the documented budget (attempts per call ≤ 1 + BudgetRatio
// + BudgetFloor/calls).
func WithEarned(ctx context.Context) context.Context {
	return context.WithValue(ctx, earnedKey{}, true)
}

func earned(ctx context.Context) bool { return ctx.Value(earnedKey{}) != nil }

type oneAttemptKey struct{}

// WithOneAttempt marks the call made with ctx as one its caller retries
// itself, deciding each retry with AllowRetry: the interceptor makes one
// attempt (and follows a NOT_LEADER redirect to a leader its router
// knows: that node did not run the call) and leaves the rest to the
// caller. Otherwise the two loops multiply: the norikv client's batch
// exchange, which routes each retry afresh, made up to MaxAttempts² attempts
// against a node refusing connections.
func WithOneAttempt(ctx context.Context) context.Context {
	return context.WithValue(ctx, oneAttemptKey{}, true)
}

// oneAttempt reports whether the caller of the call made with ctx retries
// it itself (WithOneAttempt).
func oneAttempt(ctx context.Context) bool { return ctx.Value(oneAttemptKey{}) != nil }
