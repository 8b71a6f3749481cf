package norikv

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/norikvtest"
)

// TestGRPCOnlyServer: against a server shaped like the production one
// (gRPC, binary protobuf, HTTP/2 only) the default client works, and a
// client set to Connect or gRPC-Web, or to JSON, gets one clear
// FAILED_PRECONDITION error naming what the server does not speak and
// what to use: from Connect (the cluster view) and from a call, after
// one attempt, not a series of UNAVAILABLE retries.
func TestGRPCOnlyServer(t *testing.T) {
	fc := norikvtest.Start(t, norikvtest.WithNodes(3), norikvtest.WithShards(16), norikvtest.WithGRPCOnly())
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			// Runs innermost: once per attempt.
			var attempts atomic.Int64
			counter := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
				return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
					attempts.Add(1)
					return next(ctx, req)
				}
			})
			cl := newClient(t, fc, func(c *Config) {
				p.mod(c)
				c.TotalShards = 0 // learn it from the view: Connect must fail fast, not wait
				c.Interceptors = []connect.Interceptor{counter}
			})
			ctx := context.Background()
			connErr := cl.Connect(ctx)
			if p.name == "grpc" {
				if connErr != nil {
					t.Fatal(connErr)
				}
				if _, err := cl.Put(ctx, "k", []byte("v")); err != nil {
					t.Fatal(err)
				}
				return
			}
			want := map[string]string{
				"grpc-json":       "does not speak the JSON codec: it answered in binary protobuf",
				"connect-h1":      "does not speak the Connect protocol over HTTP/1.1: it answered with HTTP/2 frames",
				"connect-h2-json": "does not speak the Connect protocol: it answered in gRPC",
				"grpcweb-h1":      "does not speak gRPC-Web over HTTP/1.1",
				"grpcweb-h2":      "does not speak gRPC-Web: it answered in gRPC",
			}[p.name]
			check := func(what string, err error) {
				t.Helper()
				var e *Error
				if !errors.Is(err, ErrProtocolNotServed) || !errors.As(err, &e) || e.Code != CodeFailedPrecondition || !strings.Contains(e.Message, want) {
					t.Fatalf("%s: %v; want FAILED_PRECONDITION ErrProtocolNotServed saying %q", what, err, want)
				}
				if !strings.Contains(e.Message, "use ") {
					t.Errorf("%s: %q does not say what to use", what, e.Message)
				}
				if errors.Is(err, ErrVersionMismatch) || errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("%s: %v also matches a version mismatch or a timeout", what, err)
				}
			}
			check("Connect", connErr)

			cl2 := newClient(t, fc, func(c *Config) {
				p.mod(c)
				c.Interceptors = []connect.Interceptor{counter}
				c.DisableWatch = true
				c.DisableAutoBatch = true
			})
			ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			attempts.Store(0)
			_, err := cl2.Put(ctx, "k", []byte("v"))
			check("Put", err)
			if n := attempts.Load(); n != 1 {
				t.Errorf("Put made %d attempts, want 1: a protocol the server does not speak is not retried", n)
			}
		})
	}
}
