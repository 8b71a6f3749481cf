package interceptors

import (
	"context"
	"net/http"

	"connectrpc.com/connect"
)

// targetKey is the context key for the node an attempt goes to.
type targetKey struct{}

// targetCtx carries the target without boxing a string: Value hands back
// the *targetCtx itself, so storing and reading a target costs one small
// allocation per attempt.
type targetCtx struct {
	context.Context
	addr string
}

func (c *targetCtx) Value(key any) any {
	if key == (targetKey{}) {
		return c
	}
	return c.Context.Value(key)
}

// WithTarget returns a ctx that tells the HTTP client from NewHTTPClient to
// send the request to addr (host:port).
func WithTarget(ctx context.Context, addr string) context.Context {
	return &targetCtx{Context: ctx, addr: addr}
}

// TargetFrom returns the address WithTarget stored in ctx, or "".
func TargetFrom(ctx context.Context) string {
	if t, ok := ctx.Value(targetKey{}).(*targetCtx); ok {
		return t.addr
	}
	return ""
}

// NewHTTPClient wraps base (nil: http.DefaultClient) so that each request
// goes to the host stored in its ctx by WithTarget, which the Routing
// interceptor does per attempt. Requests without a target keep their
// URL. Connect copies the URL for every call, so rewriting it is safe; the
// header map it shares between attempts is copied per attempt.
func NewHTTPClient(base connect.HTTPClient) connect.HTTPClient {
	if base == nil {
		base = http.DefaultClient
	}
	return routingHTTPClient{base: base}
}

type routingHTTPClient struct{ base connect.HTTPClient }

func (c routingHTTPClient) Do(req *http.Request) (*http.Response, error) {
	if addr := TargetFrom(req.Context()); addr != "" && req.URL.Host != addr {
		req.URL.Host = addr
		req.Host = ""
	}
	// Connect hands every attempt of a call the call's one header map and
	// writes into it per attempt (gRPC's grpc-timeout), while the
	// transport of an attempt given up on may still be encoding it
	// (net/http's HTTP/2 client does so on its own goroutine): a data
	// race. Each attempt's transport gets a map of its own.
	req.Header = req.Header.Clone()
	return c.base.Do(req)
}
