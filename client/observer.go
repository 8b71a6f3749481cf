package norikv

import (
	"context"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/topology"
)

// Observer receives what the client does, for tracing and metrics: every
// call and each of its attempts (interceptors.Observer: operation, shard,
// consistency, outcome, duration; per attempt the node, why it was made,
// and whether its node turned suspect; per call the retries, redirects,
// retry-budget refusals and whether the SDK stamped an idempotency key),
// changes of cluster view, and the connections of the pool. Set it as
// Config.Observer; the module github.com/norikv/norikv-go/otel implements
// it for OpenTelemetry, and embedding BaseObserver lets an implementation
// pick the events it wants.
//
// Every method is called synchronously where the event happens, except
// TopologyChanged, which has its own goroutine as for OnTopologyChange:
// implementations must be safe for concurrent use and must not block.
type Observer interface {
	interceptors.Observer
	// TopologyChanged is called for every change of cluster view (its
	// epoch, and the leaders that moved).
	TopologyChanged(TopologyEvent)
	// ConnectionOpened and ConnectionClosed are called as the pool opens
	// and closes a TCP connection to addr.
	ConnectionOpened(addr string)
	ConnectionClosed(addr string)
}

// BaseObserver implements Observer doing nothing: embed it to implement
// only some events.
type BaseObserver struct{}

var _ Observer = BaseObserver{}

// CallStart returns ctx unchanged.
func (BaseObserver) CallStart(ctx context.Context, _ *interceptors.Call) context.Context { return ctx }

// CallEnd does nothing.
func (BaseObserver) CallEnd(context.Context, *interceptors.Call) {}

// AttemptStart returns ctx unchanged.
func (BaseObserver) AttemptStart(ctx context.Context, _ *interceptors.Call, _ *interceptors.Attempt) context.Context {
	return ctx
}

// AttemptEnd does nothing.
func (BaseObserver) AttemptEnd(context.Context, *interceptors.Call, *interceptors.Attempt) {}

// TopologyChanged does nothing.
func (BaseObserver) TopologyChanged(TopologyEvent) {}

// ConnectionOpened does nothing.
func (BaseObserver) ConnectionOpened(string) {}

// ConnectionClosed does nothing.
func (BaseObserver) ConnectionClosed(string) {}

// observe sets up the observer, once: it is told of dials and topology
// changes, and obsCalls/obsAttempts are its interceptors. Without an
// observer it does nothing.
func (c *Client) observe() {
	o := c.cfg.Observer
	if o == nil {
		return
	}
	c.dialer.obs = o
	c.topo.Subscribe(func(e topology.Event) { o.TopologyChanged(eventFrom(e)) })
	c.obsCalls, c.obsAttempts = interceptors.Observe(o, c.topo)
}

// observed returns an interceptor chain with the observer's two
// interceptors around core (the call's outside, each attempt's inside).
// Without an observer it returns core as it is: the chain, and its cost,
// are unchanged.
func (c *Client) observed(core []connect.Interceptor) []connect.Interceptor {
	if c.obsCalls == nil {
		return core
	}
	return append(append([]connect.Interceptor{c.obsCalls}, core...), c.obsAttempts)
}
