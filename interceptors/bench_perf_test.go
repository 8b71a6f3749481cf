package interceptors_test

import (
	"context"
	"slices"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/interceptors"
)

// The SDK's interceptor chain (errors, validate, retry, routing) around a
// stub that answers at once: the chain's own time and allocations per
// call, with no transport. "none" is the stub alone (what the raw
// generated client pays here); each other case adds interceptors.
//
//	go test -run '^$' -bench Chain -benchmem ./interceptors/

func chainFor(names []string) []connect.Interceptor {
	var out []connect.Interceptor
	for _, n := range names {
		switch n {
		case "errors":
			out = append(out, interceptors.Errors())
		case "validate":
			out = append(out, interceptors.Validate())
		case "retry":
			out = append(out, interceptors.NewRetry(interceptors.RetryPolicy{}))
		case "routing":
			out = append(out, interceptors.Routing(interceptors.NewRouter([]string{"127.0.0.1:1", "127.0.0.1:2", "127.0.0.1:3"}, 1024)))
		}
	}
	return out
}

func wrap(next connect.UnaryFunc, chain []connect.Interceptor) connect.UnaryFunc {
	for _, c := range slices.Backward(chain) {
		next = c.WrapUnary(next)
	}
	return next
}

var chains = []struct {
	name  string
	parts []string
}{
	{"none", nil},
	{"errors", []string{"errors"}},
	{"validate", []string{"validate"}},
	{"retry", []string{"retry"}},
	{"routing", []string{"routing"}},
	{"all", []string{"errors", "validate", "retry", "routing"}},
}

func BenchmarkChainPut(b *testing.B) {
	res := connect.NewResponse(&v1.PutResponse{Version: &v1.Version{Term: 1, Index: 1}})
	stub := func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if interceptors.TargetFrom(ctx) == "x" {
			panic("unreachable")
		}
		return res, nil
	}
	val := make([]byte, 100)
	for _, c := range chains {
		b.Run(c.name, func(b *testing.B) {
			f := wrap(stub, chainFor(c.parts))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				req := connect.NewRequest(&v1.PutRequest{Key: []byte("bench-key"), Value: val})
				if _, err := f(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkChainGet(b *testing.B) {
	res := connect.NewResponse(&v1.GetResponse{Value: []byte("v"), Version: &v1.Version{Term: 1, Index: 1}})
	stub := func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if interceptors.TargetFrom(ctx) == "x" {
			panic("unreachable")
		}
		return res, nil
	}
	for _, c := range chains {
		b.Run(c.name, func(b *testing.B) {
			f := wrap(stub, chainFor(c.parts))
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				req := connect.NewRequest(&v1.GetRequest{Key: []byte("bench-key")})
				if _, err := f(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
