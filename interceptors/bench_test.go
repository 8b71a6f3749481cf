package interceptors_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/interceptors"
)

// BenchmarkChain measures the interceptors alone, around a UnaryFunc that
// answers at once: the SDK's per-call CPU cost without the network. The
// idempotency key is preset so the number is the chain's own cost (a
// generated key adds one allocation and ~100ns).
func BenchmarkChain(b *testing.B) {
	for _, bc := range []struct {
		name string
		msg  func() any
	}{
		{"Put", func() any { return &v1.PutRequest{Key: []byte("user:1"), Value: []byte("v"), IdempotencyKey: "k"} }},
		{"Get", func() any { return &v1.GetRequest{Key: []byte("user:1")} }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			router := interceptors.NewRouter([]string{"127.0.0.1:1"}, 1024)
			retry := interceptors.NewRetry(interceptors.RetryPolicy{})
			res := connect.NewResponse(&v1.GetResponse{Version: &v1.Version{Index: 1}})
			var next connect.UnaryFunc = func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
				if interceptors.TargetFrom(ctx) == "" {
					b.Fatal("no target")
				}
				return res, nil
			}
			for _, ic := range []connect.Interceptor{interceptors.Routing(router), retry, interceptors.Validate(), interceptors.Errors()} {
				next = ic.WrapUnary(next)
			}
			var req connect.AnyRequest
			switch m := bc.msg().(type) {
			case *v1.PutRequest:
				req = connect.NewRequest(m)
			case *v1.GetRequest:
				req = connect.NewRequest(m)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := next(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkNewIdempotencyKey is the cost of the key every write without
// one gets.
func BenchmarkNewIdempotencyKey(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		_ = interceptors.NewIdempotencyKey()
	}
}

// BenchmarkRetryKeylessPut is the cost of the keyed copy the Retry
// interceptor sends for a write without a key, against a write that has
// one: B/op stays flat for a 1 MiB value because the copy shares it.
func BenchmarkRetryKeylessPut(b *testing.B) {
	res := connect.NewResponse(&v1.PutResponse{Version: &v1.Version{Index: 1}})
	next := interceptors.NewRetry(interceptors.RetryPolicy{}).WrapUnary(
		func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) { return res, nil })
	for _, bc := range []struct {
		name string
		key  string
		size int
	}{{"keyed/100B", "k", 100}, {"keyless/100B", "", 100}, {"keyless/1MiB", "", 1 << 20}} {
		b.Run(bc.name, func(b *testing.B) {
			msg := &v1.PutRequest{Key: []byte("user:1"), Value: make([]byte, bc.size), IdempotencyKey: bc.key}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := next(ctx, connect.NewRequest(msg)); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
