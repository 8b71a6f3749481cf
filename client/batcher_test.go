package norikv_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/norikvtest"
	"github.com/norikv/norikv-go/server"
)

// hammer runs n goroutines doing rounds Put+Get of their own key.
func hammer(t *testing.T, c *norikv.Client, n, rounds int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for g := range n {
		wg.Go(func() {
			key := fmt.Sprintf("g%d", g)
			for r := range rounds {
				val := []byte(fmt.Sprintf("%d", r))
				ver, err := c.Put(context.Background(), key, val)
				if err != nil {
					errs <- err
					return
				}
				got, err := c.Get(context.Background(), key)
				if err != nil {
					errs <- err
					return
				}
				if string(got.Value) != string(val) || got.Version != ver {
					errs <- fmt.Errorf("%s = %q at %v, want %q at %v", key, got.Value, got.Version, val, ver)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// Concurrent single calls share exchanges; a lone caller sends each call
// alone, at once.
func TestAutoBatchConcurrentCallsShareExchanges(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4))
	pc := &procedureCounter{}
	c := batchClient(t, cl, pc, nil)
	for range 20 {
		if _, err := c.Put(context.Background(), "lone", []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := pc.count(norikvv1connect.KvBatchProcedure); n != 0 {
		t.Fatalf("a lone caller's calls went in %d batches, want none", n)
	}
	const goroutines, rounds = 32, 20
	hammer(t, c, goroutines, rounds)
	batches, _ := pc.count(norikvv1connect.KvBatchProcedure)
	puts, _ := pc.count(norikvv1connect.KvPutProcedure)
	gets, _ := pc.count(norikvv1connect.KvGetProcedure)
	calls := 2 * goroutines * rounds
	t.Logf("%d calls in %d batches, %d single puts, %d single gets", calls, batches, puts-20, gets)
	if batches == 0 || batches+puts-20+gets > calls/2 {
		t.Fatalf("%d calls took %d batches and %d single calls: want at most half as many exchanges", calls, batches, puts-20+gets)
	}
}

// gate holds every attempt until opened.
type gate struct {
	entered chan struct{}
	open    chan struct{}
}

func (g *gate) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		g.entered <- struct{}{}
		<-g.open
		return next(ctx, req)
	}
}

func (g *gate) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (g *gate) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// A queued call whose ctx ends returns at once; the others complete.
func TestAutoBatchCancelledCallLeavesQueue(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4))
	g := &gate{entered: make(chan struct{}, 100), open: make(chan struct{})}
	gated, err := norikv.New(norikv.Config{Nodes: cl.Endpoints(), TotalShards: 4, Interceptors: []connect.Interceptor{g}})
	if err != nil {
		t.Fatal(err)
	}
	defer gated.Close()
	if err := gated.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	results := make(chan error, 3)
	for i := range 2 { // fill the node's exchanges in flight
		go func() {
			_, err := gated.Put(context.Background(), fmt.Sprintf("held%d", i), []byte("v"))
			results <- err
		}()
		<-g.entered
	}
	ctx, cancel := context.WithCancel(context.Background())
	queued := make(chan error, 1)
	go func() {
		_, err := gated.Put(ctx, "queued", []byte("v"))
		queued <- err
	}()
	select {
	case err := <-queued:
		t.Fatalf("the third call returned %v before its ctx ended: it was not queued", err)
	case <-time.After(50 * time.Millisecond):
	}
	cancel()
	select {
	case err := <-queued:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled queued call: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a cancelled queued call did not return")
	}
	close(g.open)
	for range 2 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	if _, err := gated.Get(context.Background(), "queued"); !errors.Is(err, norikv.ErrKeyNotFound) {
		t.Fatalf("the cancelled call's write: %v, want it never sent", err)
	}
}

// Natural batching against nodes without Kv.Batch: every call succeeds
// and each node is asked at most a couple of times (batches in flight
// when the first answer comes), then never again.
func TestAutoBatchFallsBackOncePerNode(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(3), norikvtest.WithShards(16),
		norikvtest.WithDefects(server.Defects{NoBatch: true}))
	pc := &procedureCounter{}
	c := batchClient(t, cl, pc, nil)
	hammer(t, c, 32, 10)
	first, _ := pc.count(norikvv1connect.KvBatchProcedure)
	if first > 3*2 {
		t.Fatalf("%d Kv.Batch attempts on 3 nodes without it", first)
	}
	hammer(t, c, 32, 10)
	if n, _ := pc.count(norikvv1connect.KvBatchProcedure); n != first {
		t.Fatalf("Kv.Batch asked again after UNIMPLEMENTED: %d then %d", first, n)
	}
}

// DisableAutoBatch sends every call alone.
func TestAutoBatchDisabled(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4))
	pc := &procedureCounter{}
	c := batchClient(t, cl, pc, func(cfg *norikv.Config) { cfg.DisableAutoBatch = true })
	hammer(t, c, 16, 10)
	if n, _ := pc.count(norikvv1connect.KvBatchProcedure); n != 0 {
		t.Fatalf("%d batches with DisableAutoBatch", n)
	}
}
