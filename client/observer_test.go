package norikv_test

import (
	"context"
	"sync"
	"testing"

	"connectrpc.com/connect"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/norikvtest"
)

// recorder is an Observer that keeps a copy of every call and attempt.
type recorder struct {
	norikv.BaseObserver
	mu       sync.Mutex
	calls    []interceptors.Call
	attempts []interceptors.Attempt
	opened   int
}

func (r *recorder) CallEnd(_ context.Context, c *interceptors.Call) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, interceptors.Call{
		Operation: c.Operation, Operations: c.Operations, Shard: c.Shard, Consistency: c.Consistency,
		Code: c.Code, Attempts: c.Attempts, Retries: c.Retries, Redirects: c.Redirects,
		BudgetRejected: c.BudgetRejected, IdempotencyKeyStamped: c.IdempotencyKeyStamped,
	})
}

func (r *recorder) AttemptEnd(_ context.Context, _ *interceptors.Call, a *interceptors.Attempt) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts = append(r.attempts, interceptors.Attempt{N: a.N, Node: a.Node, Shard: a.Shard, Reason: a.Reason, Code: a.Code, NotLeader: a.NotLeader})
}

func (r *recorder) ConnectionOpened(string) {
	r.mu.Lock()
	r.opened++
	r.mu.Unlock()
}

// A Put that follows a NOT_LEADER redirect is one call of two attempts:
// the first to the old leader, the second, a redirect, to the new one.
func TestObserverRedirect(t *testing.T) {
	cl := norikvtest.Start(t, norikvtest.WithShards(8))
	rec := &recorder{}
	c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), DisableWatch: true, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil { // one view, then no watch: stale after the transfer
		t.Fatal(err)
	}
	const key = "user:1"
	if _, err := c.Put(ctx, key, []byte("a")); err != nil {
		t.Fatal(err)
	}
	shard := cl.ShardOf([]byte(key))
	old := cl.Leader(shard)
	next := ""
	for _, id := range cl.NodeIDs() {
		if id != old {
			next = id
			break
		}
	}
	if err := cl.TransferLeader(shard, next); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	rec.calls, rec.attempts = nil, nil
	rec.mu.Unlock()
	if _, err := c.Put(ctx, key, []byte("b")); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) != 1 {
		t.Fatalf("calls = %d, want 1", len(rec.calls))
	}
	call := rec.calls[0]
	if call.Operation != "Put" || call.Operations != 1 || call.Shard != int(shard) || call.Code != 0 ||
		call.Attempts != 2 || call.Redirects != 1 || call.Retries != 0 || !call.IdempotencyKeyStamped {
		t.Fatalf("call = %+v", call)
	}
	if len(rec.attempts) != 2 {
		t.Fatalf("attempts = %+v", rec.attempts)
	}
	a1, a2 := rec.attempts[0], rec.attempts[1]
	if a1.Node != cl.Addr(old) || !a1.NotLeader || a1.Code != connect.CodeUnavailable || a1.Reason != interceptors.AttemptFirst {
		t.Fatalf("attempt 1 = %+v, want NOT_LEADER from %s", a1, cl.Addr(old))
	}
	if a2.Node != cl.Addr(next) || a2.Code != 0 || a2.Reason != interceptors.AttemptRedirect || a2.N != 2 {
		t.Fatalf("attempt 2 = %+v, want a redirect to %s", a2, cl.Addr(next))
	}
	if rec.opened == 0 {
		t.Fatal("no ConnectionOpened event")
	}
}

// A call the validator refuses is observed too, with its code and no
// attempt.
func TestObserverInvalidArgument(t *testing.T) {
	rec := &recorder{}
	c, err := norikv.New(norikv.Config{Nodes: []string{"127.0.0.1:1"}, TotalShards: 8, DisableWatch: true, Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Put(context.Background(), "", []byte("a")); err == nil {
		t.Fatal("empty key accepted")
	}
	if len(rec.calls) != 1 || rec.calls[0].Code != connect.CodeInvalidArgument || rec.calls[0].Attempts != 0 {
		t.Fatalf("calls = %+v", rec.calls)
	}
}

// A MultiPut is observed as one call per node exchange, a Kv.Batch with
// as many operations as it carried, whose keys the SDK stamped; the
// operations are not calls of their own.
func TestObserverBatchIsOneCall(t *testing.T) {
	cl := norikvtest.Start(t, norikvtest.WithNodes(1), norikvtest.WithShards(8))
	rec := &recorder{}
	c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), Observer: rec})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	kvs := []norikv.KeyValue{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "c", Value: []byte("3")}}
	if _, err := c.MultiPut(ctx, kvs); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.calls) != 1 {
		t.Fatalf("calls = %+v, want one", rec.calls)
	}
	if call := rec.calls[0]; call.Operation != "Batch" || call.Operations != 3 || call.Attempts != 1 || call.Code != 0 || !call.IdempotencyKeyStamped {
		t.Fatalf("call = %+v, want one Batch of 3 operations, 1 attempt, keys stamped", call)
	}
}
