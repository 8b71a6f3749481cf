package norikv

import (
	"context"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/interceptors"
)

// Every call runs under a ctx that the client's Close cancels, so Close
// ends calls in flight (an attempt on the wire, a backoff between
// attempts) at once instead of letting them run out their retries. The
// common cases cost nothing per call: see callCtx.

// noop is the release function of calls that needed no derived ctx.
func noop() {}

// callCtx returns ctx joined to the client's lifetime, and the function
// that releases what joining took. ctx's values, deadline and
// cancellation are kept.
//
//   - context.Background() and context.TODO() carry nothing: the client's
//     own ctx stands in for them (no allocation).
//   - A ctx that is never cancelled but carries values (a tracing span,
//     say) is wrapped so that values come from it and cancellation from
//     the client (one small allocation).
//   - Any other ctx gets a child cancelled by either side (a cancelCtx and
//     an AfterFunc registration).
func (c *Client) callCtx(ctx context.Context) (context.Context, func()) {
	if ctx == context.Background() || ctx == context.TODO() {
		return c.ctx, noop
	}
	if ctx.Done() == nil {
		return &valuesCtx{Context: c.ctx, values: ctx}, noop
	}
	cctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(c.ctx, cancel)
	return cctx, func() { stop(); cancel() }
}

// valuesCtx is the client's ctx (deadline, Done, Err) with the values of
// a caller's ctx that is never cancelled.
type valuesCtx struct {
	context.Context // the client's: a cancelCtx over Background
	values          context.Context
}

// Value looks in the client's ctx first: it holds no values of its own,
// only the context package's internal cancel key, which lets derived
// contexts (the retry interceptor's timeout) register with it directly
// instead of starting a goroutine to watch it.
func (v *valuesCtx) Value(key any) any {
	if x := v.Context.Value(key); x != nil {
		return x
	}
	return v.values.Value(key)
}

// callError is the error of a failed call: ErrClosed if Close ended it
// (while the caller's own ctx was still live), else err as an *Error.
func (c *Client) callError(ctx context.Context, op string, err error) error {
	if c.ctx.Err() != nil && ctx.Err() == nil {
		e := interceptors.NewError(connect.CodeCanceled, "client closed while the call was in flight", ErrClosed, err)
		e.Operation = op
		return e
	}
	return asError(ctx, op, err)
}
