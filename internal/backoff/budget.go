package backoff

import "sync/atomic"

// Budget is a token bucket that caps retries at a fraction of recent
// traffic. Every request deposits Ratio tokens and every retry withdraws
// one; a retry is allowed only while a whole token is available. The bucket
// starts full at Floor tokens and holds at most Max, so a short burst of
// failures can always retry a little, while a long outage cannot multiply
// the load on the cluster by MaxAttempts.
//
// It is safe for concurrent use and never blocks. Tokens are kept in
// thousandths so the bucket is one atomic integer.
type Budget struct {
	milli    atomic.Int64
	ratio    int64 // milli-tokens deposited per request
	maxMilli int64
}

// NewBudget returns a full bucket. ratio is the share of requests that may
// be retried (0.1 = 10%), floor the tokens available before any traffic,
// and capacity the bucket's size (at least floor).
func NewBudget(ratio float64, floor, capacity int) *Budget {
	capacity = max(capacity, floor)
	b := &Budget{ratio: int64(ratio * 1000), maxMilli: int64(capacity) * 1000}
	b.milli.Store(int64(floor) * 1000)
	return b
}

// Deposit credits one request.
func (b *Budget) Deposit() { b.DepositN(1) }

// DepositN credits n requests at once: a batch of n operations earns what
// n single calls would.
func (b *Budget) DepositN(n int) {
	if b == nil || b.ratio == 0 || n <= 0 {
		return
	}
	for {
		cur := b.milli.Load()
		if cur >= b.maxMilli {
			return
		}
		next := min(cur+b.ratio*int64(n), b.maxMilli)
		if b.milli.CompareAndSwap(cur, next) {
			return
		}
	}
}

// Withdraw takes one token for a retry and reports whether the retry may go
// ahead. A nil Budget allows every retry.
func (b *Budget) Withdraw() bool {
	if b == nil {
		return true
	}
	for {
		cur := b.milli.Load()
		if cur < 1000 {
			return false
		}
		if b.milli.CompareAndSwap(cur, cur-1000) {
			return true
		}
	}
}

// Tokens returns the whole tokens currently available.
func (b *Budget) Tokens() int {
	if b == nil {
		return 0
	}
	return int(b.milli.Load() / 1000)
}
