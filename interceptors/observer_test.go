package interceptors_test

import (
	"context"
	"sync"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
)

type countingObserver struct {
	nopObserver
	mu       sync.Mutex
	starts   int
	ends     []interceptors.Call
	attempts int
}

func (o *countingObserver) CallStart(ctx context.Context, _ *interceptors.Call) context.Context {
	o.mu.Lock()
	o.starts++
	o.mu.Unlock()
	return ctx
}

func (o *countingObserver) CallEnd(_ context.Context, c *interceptors.Call) {
	o.mu.Lock()
	o.ends = append(o.ends, *c)
	o.mu.Unlock()
}

func (o *countingObserver) AttemptEnd(context.Context, *interceptors.Call, *interceptors.Attempt) {
	o.mu.Lock()
	o.attempts++
	o.mu.Unlock()
}

// A batch is one call of N operations: the RPCs made under StartCall's
// ctx, even concurrently, are its attempts, not calls of their own.
func TestStartCallBatch(t *testing.T) {
	router := interceptors.NewRouter([]string{"127.0.0.1:1"}, 16)
	obs := &countingObserver{}
	calls, attempts := interceptors.Observe(obs, router)
	res := connect.NewResponse(&v1.PutResponse{Version: &v1.Version{Index: 1}})
	var next connect.UnaryFunc = func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) { return res, nil }
	for _, ic := range []connect.Interceptor{attempts, interceptors.Routing(router), interceptors.NewRetry(interceptors.RetryPolicy{}), interceptors.Errors(), calls} {
		next = ic.WrapUnary(next)
	}
	ctx, end := interceptors.StartCall(context.Background(), obs, norikvv1connect.KvPutProcedure, 3)
	var wg sync.WaitGroup
	for _, k := range []string{"a", "b", "c"} {
		wg.Go(func() {
			if _, err := next(ctx, connect.NewRequest(&v1.PutRequest{Key: []byte(k), Value: []byte("v")})); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	end(nil)
	if obs.starts != 1 || len(obs.ends) != 1 || obs.attempts != 3 {
		t.Fatalf("starts %d, ends %d, attempts %d; want 1, 1, 3", obs.starts, len(obs.ends), obs.attempts)
	}
	if c := obs.ends[0]; c.Operation != "Put" || c.Operations != 3 || c.Attempts != 3 || c.Shard != -1 || c.Code != 0 {
		t.Fatalf("call = %+v", c)
	}
}
