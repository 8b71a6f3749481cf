package interceptors

import "context"

// AllowRetry is for a retry decided outside the interceptor: the norikv
// client re-sends alone an operation whose batch failed retryably. Such a
// retry must cost what one inside would: it spends a budget token (false,
// and counted as BudgetExhausted, if there is none), is counted in
// Retries, and waits the backoff for attempt (false if ctx ends first).
func (r *Retry) AllowRetry(ctx context.Context, attempt int) bool {
	allowed, err := r.spendRetry(ctx, attempt)
	return allowed && err == nil
}
