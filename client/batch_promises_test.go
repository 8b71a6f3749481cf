package norikv_test

// Batches keep every promise a single call makes (issue 23): order on one
// key when an operation is sent again, one retry for a failed exchange,
// Config.Timeout from the moment of the call, bounded answers, durable
// batches in time.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	norikv "github.com/norikv/norikv-go/client"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/norikvtest"
	"github.com/norikv/norikv-go/server"
)

// failFirstBatches answers the first n Kv.Batch exchanges UNAVAILABLE,
// unserved.
func failFirstBatches(n int32) server.FaultHook {
	var seen atomic.Int32
	return func(ctx context.Context, node, procedure string, req any) error {
		if procedure == norikvv1connect.KvBatchProcedure && seen.Add(1) <= n {
			return connect.NewError(connect.CodeUnavailable, errors.New("injected: exchange refused"))
		}
		return nil
	}
}

// A Batch of Put(k, first), 999 Gets, Put(k, second) takes two exchanges
// to one node; the first fails once. The key must end holding "second".
func TestBatchResendKeepsOrderOnOneKey(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4),
		norikvtest.WithFaults(failFirstBatches(1)))
	c := batchClient(t, cl, &procedureCounter{}, nil)
	ctx := context.Background()
	var b norikv.Batch
	first := b.Put("k", []byte("first"))
	for i := range 999 {
		b.Get(fmt.Sprintf("other-%d", i))
	}
	second := b.Put("k", []byte("second"))
	if err := c.Do(ctx, &b); err != nil && !errors.Is(err, norikv.ErrKeyNotFound) {
		t.Fatal(err)
	}
	v1, err1 := first.Result()
	v2, err2 := second.Result()
	got, err := c.Get(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Value) != "second" || err1 != nil || err2 != nil {
		t.Fatalf("Put(first)=%v,%v Put(second)=%v,%v; k holds %q, want second", v1, err1, v2, err2, got.Value)
	}
}

// A Get after a Put on the same key in one batch, the Put refused
// retryably (the idempotency cache is full of keys inside the retry
// window), is answered after the Put lands, not before.
func TestBatchGetWaitsForRefusedPut(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4),
		norikvtest.WithConfig(func(c *server.Config) {
			c.IdempotencyMaxEntries = 8
			c.IdempotencyRetryWindow = 300 * time.Millisecond
		}))
	c := batchClient(t, cl, &procedureCounter{}, func(cfg *norikv.Config) {
		cfg.Retry = norikv.RetryConfig{InitialDelay: 200 * time.Millisecond, MaxAttempts: 8}
	})
	ctx := context.Background()
	for i := range 8 {
		if _, err := c.Put(ctx, fmt.Sprintf("fill-%d", i), []byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	var b norikv.Batch
	put := b.Put("k", []byte("v"))
	get := b.Get("k")
	err := c.Do(ctx, &b)
	_, perr := put.Result()
	res, gerr := get.Result()
	if perr != nil {
		t.Fatalf("Put never landed (%v); Do = %v", perr, err)
	}
	if gerr != nil || string(res.Value) != "v" {
		t.Fatalf("Get after the Put in the batch = %v, %v, want v: answered before the Put landed", res, gerr)
	}
}

// A failed exchange is retried as one exchange: after one UNAVAILABLE, a
// MultiPut of 1,000 keys succeeds with one retry, the budget intact.
func TestBatchExchangeRetriedAsOne(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4),
		norikvtest.WithFaults(failFirstBatches(1)))
	c := batchClient(t, cl, &procedureCounter{}, nil)
	ks := make([]string, 1000)
	for i := range ks {
		ks[i] = fmt.Sprintf("one-%d", i)
	}
	_, err := c.MultiPut(context.Background(), selfValued(ks))
	if be, ok := errors.AsType[*norikv.BatchError](err); ok {
		n := 0
		for _, e := range be.Errs {
			if e != nil {
				n++
			}
		}
		t.Fatalf("after one UNAVAILABLE exchange %d of 1000 keys failed: %v", n, err)
	}
	if err != nil {
		t.Fatal(err)
	}
	if s := c.Stats().Requests; s.Retries != 1 || s.BudgetExhausted != 0 {
		t.Fatalf("retries %d, budget refusals %d; want one retry, none refused", s.Retries, s.BudgetExhausted)
	}
}

// Config.Timeout bounds a queued call from the moment it is called: with
// exchanges taking most of the Timeout, a call that queues behind them
// must not return after Timeout plus its batch's time.
func TestQueuedCallBoundedByTimeout(t *testing.T) {
	const timeout = time.Second
	delay := func(ctx context.Context, node, procedure string, req any) error {
		if procedure == norikvv1connect.KvPutProcedure || procedure == norikvv1connect.KvBatchProcedure {
			select {
			case <-time.After(900 * time.Millisecond):
			case <-ctx.Done():
			}
		}
		return nil
	}
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4))
	c := batchClient(t, cl, &procedureCounter{}, func(cfg *norikv.Config) {
		cfg.Timeout = timeout
		cfg.Retry.AttemptTimeout = timeout
	})
	if _, err := c.Put(context.Background(), "warm", nil); err != nil {
		t.Fatal(err)
	}
	cl.SetFaults(delay)
	var wg sync.WaitGroup
	var worst atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			start := time.Now()
			_, _ = c.Put(context.Background(), fmt.Sprintf("t-%d", i), []byte("v")) // only how long it took counts here
			if d := int64(time.Since(start)); d > worst.Load() {
				worst.Store(d)
			}
		})
		time.Sleep(20 * time.Millisecond) // the first two leave alone, the rest queue
	}
	wg.Wait()
	if w := time.Duration(worst.Load()); w > timeout+400*time.Millisecond {
		t.Fatalf("a call with Timeout %v returned after %v", timeout, w)
	}
}

// answerSizes records the size of every Kv.Batch answer.
type answerSizes struct {
	mu    sync.Mutex
	sizes []int
}

func (a *answerSizes) interceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			if err == nil {
				if m, ok := res.Any().(*v1.BatchResponse); ok {
					a.mu.Lock()
					a.sizes = append(a.sizes, proto.Size(m))
					a.mu.Unlock()
				}
			}
			return res, err
		}
	})
}

// MultiGet of 12 values of 1 MiB is cut by its answer's size: no answer
// carries much more than the batch limit.
func TestMultiGetAnswersBounded(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4))
	as := &answerSizes{}
	c := batchClient(t, cl, &procedureCounter{}, func(cfg *norikv.Config) {
		cfg.Interceptors = append(cfg.Interceptors, as.interceptor())
		cfg.Timeout = 30 * time.Second // what is measured is size, not speed
	})
	ctx := context.Background()
	big := make([]byte, 1<<20)
	ks := make([]string, 12)
	kvs := make([]norikv.KeyValue, len(ks))
	for i := range ks {
		ks[i] = fmt.Sprintf("big-%d", i)
		kvs[i] = norikv.KeyValue{Key: ks[i], Value: big}
	}
	if _, err := c.MultiPut(ctx, kvs); err != nil {
		t.Fatal(err)
	}
	got, err := c.MultiGet(ctx, ks)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if len(got[i].Value) != len(big) {
			t.Fatalf("%s: %d bytes", ks[i], len(got[i].Value))
		}
	}
	as.mu.Lock()
	defer as.mu.Unlock()
	for _, n := range as.sizes {
		if n > 5<<20 {
			t.Fatalf("a Kv.Batch answer of %d bytes (answers: %v), want at most ~4 MiB", n, as.sizes)
		}
	}
}

// MultiPut of 1,000 keys against a durable cluster succeeds, in time.
func TestMultiPutDurable(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(3), norikvtest.WithDataDir(t.TempDir()))
	c := batchClient(t, cl, &procedureCounter{}, nil)
	ks := make([]string, 1000)
	for i := range ks {
		ks[i] = fmt.Sprintf("durable-%d", i)
	}
	start := time.Now()
	if _, err := c.MultiPut(context.Background(), selfValued(ks)); err != nil {
		t.Fatalf("MultiPut of 1000 keys, durable: %v (after %v)", err, time.Since(start))
	}
	t.Logf("MultiPut of 1000 keys, durable: %v", time.Since(start))
}

// Against a node that refuses connections, a batch exchange makes at most
// Config.Retry.MaxAttempts attempts, as one call would: the exchange's own
// retries are the only ones (the retry interceptor under it makes one
// attempt), not MaxAttempts of them per exchange attempt.
func TestBatchExchangeAttemptsBoundedByMaxAttempts(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4))
	pc := &procedureCounter{}
	c := batchClient(t, cl, pc, func(cfg *norikv.Config) {
		cfg.Retry = norikv.RetryConfig{MaxAttempts: 3, InitialDelay: time.Millisecond, Jitter: -1, BudgetFloor: 1000}
		cfg.DisableAutoBatch = true
	})
	if err := cl.StopNode("n1"); err != nil {
		t.Fatal(err)
	}
	_, err := c.MultiGet(context.Background(), keys(20))
	if err == nil {
		t.Fatal("MultiGet from a stopped node succeeded")
	}
	if n, _ := pc.count(norikvv1connect.KvBatchProcedure); n > 3 {
		t.Fatalf("%d Kv.Batch attempts to a node refusing connections, want at most MaxAttempts (3)", n)
	}
	if n, _ := pc.count(norikvv1connect.KvGetProcedure); n != 0 {
		t.Fatalf("%d single Gets after the exchange failed, want none", n)
	}
}

// A batch's operations earn their retry-budget share once, as their single
// calls would, however often their exchange is retried: with every
// exchange refused, a MultiGet of 100 keys (ratio 0.1: 10 tokens, plus a
// floor of 1) gets about 11 retries, not one per attempt its re-earning
// would pay for.
func TestBatchRetriesEarnOnce(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4),
		norikvtest.WithFaults(failFirstBatches(1<<30)))
	c := batchClient(t, cl, &procedureCounter{}, func(cfg *norikv.Config) {
		cfg.Retry = norikv.RetryConfig{MaxAttempts: 50, InitialDelay: time.Millisecond, MaxDelay: time.Millisecond, Jitter: -1, BudgetRatio: 0.1, BudgetFloor: 1}
		cfg.DisableAutoBatch = true
	})
	if _, err := c.MultiGet(context.Background(), keys(100)); err == nil {
		t.Fatal("MultiGet succeeded with every exchange refused")
	}
	if s := c.Stats().Requests; s.Retries < 5 || s.Retries > 12 || s.BudgetExhausted == 0 {
		t.Fatalf("%d retries, %d refused by the budget; want about 11 (100 ops × 0.1 + 1) and then refusals", s.Retries, s.BudgetExhausted)
	}
}
