package interceptors_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/interceptors"
)

type nopObserver struct{}

func (nopObserver) CallStart(ctx context.Context, _ *interceptors.Call) context.Context { return ctx }
func (nopObserver) CallEnd(context.Context, *interceptors.Call)                         {}
func (nopObserver) AttemptStart(ctx context.Context, _ *interceptors.Call, _ *interceptors.Attempt) context.Context {
	return ctx
}
func (nopObserver) AttemptEnd(context.Context, *interceptors.Call, *interceptors.Attempt) {}

// BenchmarkChainObserved is BenchmarkChain with an Observer that does
// nothing: the cost of the observing interceptors themselves. Without an
// observer the client builds the chain of BenchmarkChain, unchanged.
func BenchmarkChainObserved(b *testing.B) {
	router := interceptors.NewRouter([]string{"127.0.0.1:1"}, 1024)
	calls, attempts := interceptors.Observe(nopObserver{}, router)
	res := connect.NewResponse(&v1.GetResponse{Version: &v1.Version{Index: 1}})
	var next connect.UnaryFunc = func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) { return res, nil }
	for _, ic := range []connect.Interceptor{attempts, interceptors.Routing(router), interceptors.NewRetry(interceptors.RetryPolicy{}), interceptors.Validate(), interceptors.Errors(), calls} {
		next = ic.WrapUnary(next)
	}
	req := connect.NewRequest(&v1.GetRequest{Key: []byte("user:1")})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := next(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}
