package norikv

import (
	"context"

	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/wire"
)

// This file is how the client keys the writes it builds (single calls,
// natural and explicit batches): an automatic session key
// (interceptors.Session) when the cluster announces client sessions, else
// no key, and then such a write is sent again only when a failure proves
// it was not applied. A caller's WithIdempotencyKey always goes as given.
// Writes the client does not build (vector writes) are keyed the same way
// by the Retry interceptor, with the same Session.

// sessionsEnabled reports whether the cluster's view announces client
// sessions. Before the first view it does not: a write then goes without
// an automatic key (Connect avoids that).
func (c *Client) sessionsEnabled() bool {
	return wire.HasCapability(c.topo.View(), wire.SessionCapability)
}

// idemKeyOf returns the idempotency key field of o's request; nil for a
// read.
func (o *op) idemKeyOf() *string {
	switch o.kind {
	case opPut:
		return &o.putReq.Put.IdempotencyKey
	case opDelete:
		return &o.delReq.Delete.IdempotencyKey
	}
	return nil
}

// stamp decides o's key, once, before it is first sent: a write without
// the caller's key gets a session key and sequence, or none. A re-sent op
// keeps what it got, so its key is the same byte for byte.
func (c *Client) stamp(o *op) {
	k := o.idemKeyOf()
	if k == nil || *k != "" || o.unkeyed {
		return
	}
	key, seq := c.session.Stamp()
	if key == "" {
		o.unkeyed = true
		return
	}
	*k, o.seq, o.stamped = key, seq, true
}

// unstamp gives o's sequence back once its caller awaits it no more, so
// the session's watermark moves past it.
func (c *Client) unstamp(o *op) {
	c.session.Done(o.seq)
	o.seq = 0
}

// unaryCtx is ctx for sending o alone: the Retry interceptor must not key
// or count again a write the client decided on.
func unaryCtx(ctx context.Context, o *op, observed bool) context.Context {
	if o.unkeyed {
		ctx = interceptors.WithKeyDecided(ctx)
	}
	if o.stamped && observed {
		ctx = interceptors.WithStampedKey(ctx)
	}
	if o.earned {
		ctx = interceptors.WithEarned(ctx)
	}
	return ctx
}

// mayRedo is redo for o after err, unless o is a write without a key and
// err does not prove it was not applied: then o is not sent again, and its
// error says its outcome is unknown.
func mayRedo(ctx context.Context, o *op, redo redoKind, err error) redoKind {
	if redo != redoRetry || !o.unkeyed || interceptors.NotApplied(err) {
		return redo
	}
	e := *interceptors.OutcomeUnknown(ctx, err)
	e.Operation, e.Key = o.name(), string(o.key())
	o.err = &e
	return redoNone
}
