// Package backoff holds the retry mechanics shared by the retry interceptor
// and the topology watcher: named exponential backoff policies with
// jitter, a ctx-aware sleep, per-policy counters, and a retry budget.
//
// Each kind of wait has its own named Policy, as tikv names its Bo*
// policies, so each can be tuned and reported apart:
//
//   - CallRetry paces a call's retries after a transient failure.
//   - WatchReconnect paces reopening the cluster watch after it ended.
//   - WatchUnimplemented is the wait before asking again a cluster that
//     answered UNIMPLEMENTED for Meta.
package backoff

import (
	"context"
	"math/rand/v2"
	"sync/atomic"
	"time"
)

// Policy describes exponential backoff: attempt n (0-based) waits
// min(Initial*2^n, Max) plus a uniformly random jitter in [0, Jitter).
// The jitter spreads clients that failed together so they do not retry in
// lock step. Name says which wait it paces, in logs and stats.
type Policy struct {
	Name    string
	Initial time.Duration
	Max     time.Duration
	Jitter  time.Duration
}

// The named policies and their defaults.
var (
	// CallRetry: 50ms doubling to 2s, plus up to 100ms. A call retries
	// within its own deadline and the retry budget, so it starts short;
	// the client's Config.Retry overrides each field.
	CallRetry = Policy{Name: "CallRetry", Initial: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: 100 * time.Millisecond}
	// WatchReconnect: 50ms doubling to 2s, plus up to 250ms. The watch is
	// the client's only source of leader changes, so it comes back as fast
	// as a call would; the wider jitter spreads the many clients whose
	// streams a restarting node ended at the same instant. It has no
	// user-facing knob: Config.Retry no longer paces it.
	WatchReconnect = Policy{Name: "WatchReconnect", Initial: 50 * time.Millisecond, Max: 2 * time.Second, Jitter: 250 * time.Millisecond}
	// WatchUnimplemented: a flat 30s. A cluster that does not serve Meta
	// will not start to within seconds; asking again now and then only
	// notices an upgrade.
	WatchUnimplemented = Policy{Name: "WatchUnimplemented", Initial: 30 * time.Second, Max: 30 * time.Second}
)

// Or returns p with its zero fields taken from def (Name included), so a
// caller can override some fields of a named policy.
func (p Policy) Or(def Policy) Policy {
	if p.Name == "" {
		p.Name = def.Name
	}
	if p.Initial <= 0 {
		p.Initial = def.Initial
	}
	if p.Max <= 0 {
		p.Max = def.Max
	}
	if p.Jitter == 0 {
		p.Jitter = def.Jitter
	} else if p.Jitter < 0 {
		p.Jitter = 0
	}
	return p
}

// Delay returns the wait before retry number attempt (0 for the first
// retry).
func (p Policy) Delay(attempt int) time.Duration {
	d := p.Initial
	for i := 0; i < attempt && d < p.Max; i++ {
		d *= 2
	}
	if p.Max > 0 && d > p.Max {
		d = p.Max
	}
	if p.Jitter > 0 {
		d += rand.N(p.Jitter)
	}
	return d
}

// Sleep waits for d or until ctx is done, whichever comes first. It returns
// ctx.Err() if ctx ended the wait, so a cancelled caller is released at
// once instead of after the backoff.
func Sleep(ctx context.Context, d time.Duration) error {
	// Checked first: once d has passed, both cases of the select below
	// are ready and it picks one at random, so a caller preempted for
	// longer than d would be told a cancelled wait succeeded.
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Backoffer is one user's instance of a Policy: it sleeps the policy's
// delays and counts them, so each policy is reported apart. Its methods
// are safe for concurrent use.
type Backoffer struct {
	p     Policy
	count atomic.Uint64
	slept atomic.Int64 // nanoseconds
}

// New returns a Backoffer for p.
func New(p Policy) *Backoffer { return &Backoffer{p: p} }

// Policy returns the policy it follows.
func (b *Backoffer) Policy() Policy { return b.p }

// Sleep waits the policy's delay for attempt (see Policy.Delay), within
// ctx, and counts it.
func (b *Backoffer) Sleep(ctx context.Context, attempt int) error {
	return b.SleepFor(ctx, b.p.Delay(attempt))
}

// SleepFor waits d within ctx and counts it as one of the policy's
// backoffs; the time counted is the time waited.
func (b *Backoffer) SleepFor(ctx context.Context, d time.Duration) error {
	b.count.Add(1)
	start := time.Now()
	err := Sleep(ctx, d)
	b.slept.Add(int64(time.Since(start)))
	return err
}

// Stats are a Backoffer's counters.
type Stats struct {
	Policy string        // the policy's Name
	Count  uint64        // backoffs begun
	Slept  time.Duration // time spent in them
}

// Stats returns the counters.
func (b *Backoffer) Stats() Stats {
	return Stats{Policy: b.p.Name, Count: b.count.Load(), Slept: time.Duration(b.slept.Load())}
}
