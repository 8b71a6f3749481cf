package norikv_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"connectrpc.com/connect"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/norikvtest"
	"github.com/norikv/norikv-go/server"
)

// procedureCounter counts attempts per procedure and node, as sent.
type procedureCounter struct {
	mu sync.Mutex
	n  map[string]int // "procedure node"
}

func (p *procedureCounter) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		p.mu.Lock()
		if p.n == nil {
			p.n = map[string]int{}
		}
		p.n[req.Spec().Procedure+" "+interceptors.TargetFrom(ctx)]++
		p.mu.Unlock()
		return next(ctx, req)
	}
}

func (p *procedureCounter) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (p *procedureCounter) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

// count returns the attempts of procedure, to any node, and the nodes.
func (p *procedureCounter) count(procedure string) (n int, nodes []string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for k, v := range p.n {
		var proc, node string
		if _, err := fmt.Sscan(k, &proc, &node); err != nil {
			panic(err) // keys are written by this file as "procedure node"
		}
		if proc == procedure {
			n += v
			nodes = append(nodes, node)
		}
	}
	slices.Sort(nodes)
	return n, nodes
}

func batchClient(t *testing.T, cl *norikvtest.Cluster, pc *procedureCounter, set func(*norikv.Config)) *norikv.Client {
	t.Helper()
	cfg := norikv.Config{Nodes: cl.Endpoints(), TotalShards: cl.Shards(), Interceptors: []connect.Interceptor{pc}}
	if set != nil {
		set(&cfg)
	}
	c, err := norikv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c
}

func keys(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("key-%03d", i)
	}
	return out
}

// selfValued pairs each key with itself as the value.
func selfValued(keys []string) []norikv.KeyValue {
	kvs := make([]norikv.KeyValue, len(keys))
	for i, k := range keys {
		kvs[i] = norikv.KeyValue{Key: k, Value: []byte(k)}
	}
	return kvs
}

// MultiPut and MultiGet of 100 keys on 3 nodes take one Kv.Batch per node
// each; a missing key is ErrKeyNotFound for that key alone.
func TestMultiGetPutOneBatchPerNode(t *testing.T) {
	for _, p := range protocolMatrix {
		t.Run(p.name, func(t *testing.T) {
			cl := startCluster(t, norikvtest.WithNodes(3), norikvtest.WithShards(16))
			pc := &procedureCounter{}
			c := batchClient(t, cl, pc, p.set)
			ctx := context.Background()
			ks := keys(100)
			kvs := make([]norikv.KeyValue, len(ks))
			for i, k := range ks {
				kvs[i] = norikv.KeyValue{Key: k, Value: []byte("v" + k)}
			}
			vers, err := c.MultiPut(ctx, kvs)
			if err != nil {
				t.Fatal(err)
			}
			if n, nodes := pc.count(norikvv1connect.KvBatchProcedure); n != 3 || len(nodes) != 3 {
				t.Fatalf("MultiPut of 100 keys sent %d batches to %v, want one to each of 3 nodes", n, nodes)
			}
			got, err := c.MultiGet(ctx, append(ks, "missing"))
			var be *norikv.BatchError
			if !errors.As(err, &be) || len(be.Errs) != 101 || !errors.Is(err, norikv.ErrKeyNotFound) {
				t.Fatalf("MultiGet with a missing key: %v, want a *BatchError of 101 matching ErrKeyNotFound", err)
			}
			for i, k := range ks {
				if be.Errs[i] != nil || string(got[i].Value) != "v"+k || got[i].Version != vers[i] {
					t.Fatalf("key %s: %v %v, want v%s at %v", k, got[i], be.Errs[i], k, vers[i])
				}
			}
			if !errors.Is(be.Errs[100], norikv.ErrKeyNotFound) || got[100] != nil {
				t.Fatalf("missing key: %v %v, want ErrKeyNotFound", got[100], be.Errs[100])
			}
			if n, _ := pc.count(norikvv1connect.KvBatchProcedure); n != 6 {
				t.Fatalf("%d batches after MultiPut and MultiGet, want 6", n)
			}
			if n, _ := pc.count(norikvv1connect.KvGetProcedure); n != 0 {
				t.Fatalf("%d single Gets, want none", n)
			}
		})
	}
}

// A Batch mixes operations; a CAS mismatch and a bad key fail alone.
func TestBatchBuilderPerOperationErrors(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4))
	c := batchClient(t, cl, &procedureCounter{}, nil)
	ctx := context.Background()
	v, err := c.Put(ctx, "cas", []byte("old"))
	if err != nil {
		t.Fatal(err)
	}
	var b norikv.Batch
	put := b.Put("a", []byte("1"), norikv.WithTTL(0))
	cas := b.Put("cas", []byte("new"), norikv.IfMatch(norikv.Version{Term: v.Term, Index: v.Index + 9}))
	bad := b.Get("")
	get := b.Get("cas")
	del := b.Delete("a")
	err = c.Do(ctx, &b)
	if !errors.Is(err, norikv.ErrVersionMismatch) {
		t.Fatalf("Do = %v, want a BatchError matching ErrVersionMismatch", err)
	}
	if ver, err := put.Result(); err != nil || ver.IsZero() {
		t.Errorf("put = %v, %v", ver, err)
	}
	if _, err := cas.Result(); !errors.Is(err, norikv.ErrVersionMismatch) {
		t.Errorf("cas = %v, want ErrVersionMismatch", err)
	}
	var e *norikv.Error
	if _, err := bad.Result(); !errors.As(err, &e) || e.Code != connect.CodeInvalidArgument {
		t.Errorf("empty key = %v, want INVALID_ARGUMENT", err)
	}
	if r, err := get.Result(); err != nil || string(r.Value) != "old" {
		t.Errorf("get = %v, %v, want old", r, err)
	}
	if tomb, err := del.Result(); err != nil || !tomb {
		t.Errorf("delete = %v, %v, want tombstoned", tomb, err)
	}
	if err := c.Do(ctx, &b); err == nil {
		t.Error("a Batch sent twice: no error")
	}
	if _, err := c.MultiPut(ctx, []norikv.KeyValue{{Key: "x"}}, norikv.WithIdempotencyKey("k")); err == nil {
		t.Error("MultiPut with one idempotency key for all writes: no error")
	}
}

// Operations answered NOT_LEADER are re-routed: the client's view is
// stale (no watch) after every shard's leader moved.
func TestMultiPutReroutesNotLeader(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(3), norikvtest.WithShards(8))
	pc := &procedureCounter{}
	c := batchClient(t, cl, pc, func(cfg *norikv.Config) { cfg.DisableWatch = true })
	ids := cl.NodeIDs()
	for s := range uint32(8) {
		cur := cl.Leader(s)
		next := ids[(slices.Index(ids, cur)+1)%len(ids)]
		if err := cl.TransferLeader(s, next); err != nil {
			t.Fatal(err)
		}
	}
	ks := keys(50)
	if _, err := c.MultiPut(context.Background(), selfValued(ks)); err != nil {
		t.Fatalf("MultiPut after leaders moved: %v", err)
	}
	got, err := c.MultiGet(context.Background(), ks)
	if err != nil {
		t.Fatal(err)
	}
	for i, k := range ks {
		if string(got[i].Value) != k {
			t.Fatalf("%s = %q", k, got[i].Value)
		}
	}
	if n, _ := pc.count(norikvv1connect.KvPutProcedure); n == 0 {
		t.Fatal("no Put was re-sent alone: the batches were not answered NOT_LEADER")
	}
	if s := cl.Stats(); s.Puts != 50 {
		t.Fatalf("server applied %d puts for 50 keys", s.Puts)
	}
}

// Against nodes without Kv.Batch the client learns it once per node and
// sends single calls; nothing fails.
func TestBatchFallsBackOncePerNode(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(3), norikvtest.WithShards(16),
		norikvtest.WithDefects(server.Defects{NoBatch: true}))
	pc := &procedureCounter{}
	c := batchClient(t, cl, pc, nil)
	ks := keys(60)
	for range 3 {
		if _, err := c.MultiPut(context.Background(), selfValued(ks)); err != nil {
			t.Fatal(err)
		}
		got, err := c.MultiGet(context.Background(), ks)
		if err != nil {
			t.Fatal(err)
		}
		for i, k := range ks {
			if string(got[i].Value) != k {
				t.Fatalf("%s = %q", k, got[i].Value)
			}
		}
	}
	if n, nodes := pc.count(norikvv1connect.KvBatchProcedure); n != 3 || len(nodes) != 3 {
		t.Fatalf("%d Kv.Batch attempts to %v, want one per node", n, nodes)
	}
	if n, _ := pc.count(norikvv1connect.KvGetProcedure); n != 180 {
		t.Fatalf("%d single Gets, want 180", n)
	}
}

// More operations than one Kv.Batch may carry are split within the
// limits: 2100 keys for one node take 3 batches.
func TestMultiPutSplitsAtTheLimit(t *testing.T) {
	cl := startCluster(t, norikvtest.WithNodes(1), norikvtest.WithShards(4))
	pc := &procedureCounter{}
	c := batchClient(t, cl, pc, nil)
	ks := make([]string, 2100)
	for i := range ks {
		ks[i] = fmt.Sprintf("split-%d", i)
	}
	if _, err := c.MultiPut(context.Background(), selfValued(ks)); err != nil {
		t.Fatal(err)
	}
	if n, _ := pc.count(norikvv1connect.KvBatchProcedure); n != 3 {
		t.Fatalf("2100 operations in %d batches, want 3 (at most 1000 each)", n)
	}
	if s := cl.Stats(); s.Puts != 2100 {
		t.Fatalf("%d puts applied", s.Puts)
	}
}
