// Package backoff holds the retry mechanics shared by the retry interceptor
// and the topology watcher: exponential delays with jitter, a ctx-aware
// sleep, and a retry budget.
package backoff

import (
	"context"
	"math/rand/v2"
	"time"
)

// Policy describes exponential backoff: attempt n (0-based) waits
// min(Initial*2^n, Max) plus a uniformly random jitter in [0, Jitter).
// The jitter spreads clients that failed together so they do not retry in
// lock step.
type Policy struct {
	Initial time.Duration
	Max     time.Duration
	Jitter  time.Duration
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
	if d <= 0 {
		return ctx.Err()
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
