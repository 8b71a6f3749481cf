package server

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/wire"
)

// The hook sees the node, procedure and decoded request of every unary
// call, its error is the answer, and the call is counted either way.
func TestFaultHookAnswersAndCounts(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 4})
	var mu sync.Mutex
	var seen []string
	c.SetFaults(func(_ context.Context, node, proc string, req any) error {
		mu.Lock()
		defer mu.Unlock()
		if p, ok := req.(*v1.PutRequest); ok {
			seen = append(seen, node+" "+proc+" "+string(p.Key))
			return connect.NewError(connect.CodeAborted, errors.New("injected"))
		}
		return nil
	})
	kv := dial(t, c.Addr("n1"), grpcProto).kv
	_, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("v")})
	wantCode(t, err, connect.CodeAborted, "injected")
	res, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte("k")})
	if err != nil || res.Version != nil {
		t.Fatalf("Get after a refused Put = %v, %v; want OK with no version (not applied)", res, err)
	}
	if want := "n1 " + norikvv1connect.KvPutProcedure + " k"; len(seen) != 1 || seen[0] != want {
		t.Fatalf("hook saw %q, want [%q]", seen, want)
	}
	if n := c.Calls("n1"); n != 2 {
		t.Fatalf("Calls(n1) = %d, want 2", n)
	}
	c.SetFaults(nil)
	put(t, kv, "k", "v")
}

// AfterApply applies the write and remembers its idempotency key before
// failing the reply, so a retry with the key replays the first version.
func TestFaultAfterApply(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 4})
	var fail sync.Once
	c.SetFaults(func(_ context.Context, _, proc string, _ any) error {
		var err error
		if proc == norikvv1connect.KvPutProcedure {
			fail.Do(func() { err = AfterApply(connect.NewError(connect.CodeUnavailable, errors.New("reply lost"))) })
		}
		return err
	})
	kv := dial(t, c.Addr("n1"), grpcProto).kv
	req := &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: "once"}
	_, err := kv.Put(ctxT(t), req)
	wantCode(t, err, connect.CodeUnavailable, "reply lost")
	got, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte("k")})
	if err != nil || got.Version == nil || string(got.Value) != "v" {
		t.Fatalf("Get after the lost reply = %v, %v; want the applied value", got, err)
	}
	res, err := kv.Put(ctxT(t), req)
	if err != nil || res.Version.Index != got.Version.Index {
		t.Fatalf("retry = %v, %v; want the replayed version %v", res, err, got.Version)
	}
}

// ErrCloseConnection breaks the call instead of answering it, over
// HTTP/1.1 and HTTP/2 alike; inside AfterApply the write is applied first.
func TestFaultCloseConnection(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			c, _ := startTest(t, Config{Nodes: 1, Shards: 4})
			c.SetFaults(func(_ context.Context, _, proc string, req any) error {
				if r, ok := req.(*v1.PutRequest); ok && string(r.Value) == "applied" {
					return AfterApply(ErrCloseConnection)
				}
				if proc == norikvv1connect.KvPutProcedure {
					return ErrCloseConnection
				}
				return nil
			})
			kv := dial(t, c.Addr("n1"), p).kv
			for _, v := range []string{"dropped", "applied"} {
				_, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte(v), Value: []byte(v)})
				// The transport's failure, not a status the server sent.
				if err == nil || !strings.Contains(err.Error(), "EOF") && !strings.Contains(err.Error(), "stream error") {
					t.Fatalf("Put %s = %v; want a broken call, not an answer", v, err)
				}
			}
			for v, want := range map[string]bool{"dropped": false, "applied": true} {
				res, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte(v)})
				if err != nil || (res.Version != nil) != want {
					t.Fatalf("Get %s = %v, %v; want applied = %v", v, res, err, want)
				}
			}
		})
	}
}

// Each defect switch changes the answer it names, and SetDefects turns
// them off again.
func TestDefects(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 2, Shards: 4, Defects: Defects{
		MissingKeyNotFound: true, IgnoreDeleteIfMatch: true, NoVector: true,
	}})
	kv := leaderOf(t, c, "k").kv
	_, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte("k")})
	wantCode(t, err, connect.CodeNotFound)
	put(t, kv, "k", "v")
	res, err := kv.Delete(ctxT(t), &v1.DeleteRequest{Key: []byte("k"), IfMatch: &v1.Version{Term: 9, Index: 9}})
	if err != nil || !res.Tombstoned {
		t.Fatalf("Delete with a wrong if_match = %v, %v; want it ignored", res, err)
	}
	vec := leaderOf(t, c, "k").vector
	_, err = vec.CreateIndex(ctxT(t), &v1.CreateVectorIndexRequest{Namespace: "ns", Dimensions: 2})
	wantCode(t, err, connect.CodeUnimplemented)

	c.SetDefects(Defects{IgnoreIdempotency: true})
	req := &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: "id"}
	a, err1 := kv.Put(ctxT(t), req)
	b, err2 := kv.Put(ctxT(t), req)
	if err1 != nil || err2 != nil || a.Version.Index == b.Version.Index {
		t.Fatalf("IgnoreIdempotency: %v %v %v %v; want two applies", a, b, err1, err2)
	}
	c.SetDefects(Defects{IdempotencyIgnoresRequest: true})
	req.IdempotencyKey = "id2"
	a, err1 = kv.Put(ctxT(t), req)
	b, err2 = kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("other"), IdempotencyKey: "id2"})
	if err1 != nil || err2 != nil || a.Version.Index != b.Version.Index {
		t.Fatalf("IdempotencyIgnoresRequest: %v %v %v %v; want the first result replayed", a, b, err1, err2)
	}
	c.SetDefects(Defects{})
	_, err = kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("third"), IdempotencyKey: "id2"})
	wantCode(t, err, connect.CodeInvalidArgument, "idempotency key")
}

// The leader-hint defects: absent, a node id, a foreign address.
func TestLeaderHintDefects(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 2, Shards: 4})
	leader := c.Leader(c.ShardOf([]byte("k")))
	kv := dial(t, c.Addr(followerOf(t, c, "k")), grpcProto).kv
	cases := []struct {
		d                  Defects
		hint, id, detailAt string
	}{
		{Defects{}, c.Addr(leader), leader, c.Addr(leader)},
		{Defects{NoLeaderHint: true}, "", "", ""},
		{Defects{LeaderHintNodeID: true}, leader, "", c.Addr(leader)},
		{Defects{ForeignLeaderHint: "192.0.2.1:1"}, "192.0.2.1:1", leader, "192.0.2.1:1"},
	}
	for _, tc := range cases {
		c.SetDefects(tc.d)
		_, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("v")})
		ce := wantCode(t, err, connect.CodeUnavailable, wire.NotLeaderPrefix)
		if h, id := ce.Meta().Get(wire.HeaderLeaderHint), ce.Meta().Get(wire.HeaderLeaderID); h != tc.hint || id != tc.id {
			t.Errorf("%+v: leader-hint %q leader-id %q, want %q %q", tc.d, h, id, tc.hint, tc.id)
		}
		if nl, _ := wire.ParseNotLeader(err); nl.LeaderAddr != tc.detailAt {
			t.Errorf("%+v: the reply names address %q, want %q", tc.d, nl.LeaderAddr, tc.detailAt)
		}
	}
}

// SetLeaderQuiet moves a leadership without a new view; SetRole publishes
// the role; Watches counts streams; NoMeta refuses them.
func TestTopologyTestHooks(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 2, Shards: 4})
	epoch := c.Epoch()
	to := followerOf(t, c, "k")
	if err := c.SetLeaderQuiet(c.ShardOf([]byte("k")), to); err != nil {
		t.Fatal(err)
	}
	if c.Leader(c.ShardOf([]byte("k"))) != to || c.Epoch() != epoch {
		t.Fatalf("after SetLeaderQuiet: leader %s epoch %d, want %s and epoch %d unchanged", c.Leader(c.ShardOf([]byte("k"))), c.Epoch(), to, epoch)
	}
	if err := c.SetRole("n2", "learner"); err != nil {
		t.Fatal(err)
	}
	if v := c.View(); v.Epoch != epoch+1 || v.Nodes[1].Role != "learner" {
		t.Fatalf("view after SetRole = epoch %d role %q", v.Epoch, v.Nodes[1].Role)
	}
	meta := dial(t, c.Addr("n1"), grpcProto).meta
	ctx, cancel := context.WithCancel(ctxT(t))
	st, err := meta.WatchCluster(ctx, &v1.ClusterView{})
	if err != nil || !st.Receive() {
		t.Fatalf("WatchCluster: %v %v", err, st.Err())
	}
	cancel()
	st.Close()
	if n := c.Watches(); n != 1 {
		t.Fatalf("Watches = %d, want 1", n)
	}
	c.SetDefects(Defects{NoMeta: true})
	st, _ = meta.WatchCluster(ctxT(t), &v1.ClusterView{})
	if st.Receive() {
		t.Fatal("WatchCluster with NoMeta sent a view")
	}
	wantCode(t, st.Err(), connect.CodeUnimplemented)
	st.Close()
}

// Config.Leader gives one node every leadership at start; a name that is
// not a node id is refused.
func TestConfigLeader(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 8, Leader: "n2"})
	for s := range uint32(8) {
		if l := c.Leader(s); l != "n2" {
			t.Fatalf("shard %d led by %s, want n2", s, l)
		}
	}
	for _, bad := range []string{"n4", "n0", "2", "n02", "x"} {
		if _, err := Start(Config{Nodes: 3, Leader: bad}); err == nil || !strings.Contains(err.Error(), "Leader") {
			t.Errorf("Leader %q: err = %v, want a refusal naming Leader", bad, err)
		}
	}
}
