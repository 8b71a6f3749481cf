package server

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

func TestConsistencySpellings(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 8})
	key := "c"
	leader := leaderOf(t, c, key).kv
	follower := dial(t, c.Addr(followerOf(t, c, key)), grpcProto).kv
	put(t, leader, key, "v")
	ctx := ctxT(t)
	for _, s := range []string{"", "lease", "strong", "linearizable", "eventual", "stale_ok", "bounded_staleness"} {
		if _, err := leader.Get(ctx, &v1.GetRequest{Key: []byte(key), Consistency: s}); err != nil {
			t.Errorf("leader get %q: %v", s, err)
		}
		_, err := follower.Get(ctx, &v1.GetRequest{Key: []byte(key), Consistency: s})
		cons, _ := wire.ParseConsistency(s)
		if cons.NeedsLeader() {
			if _, ok := wire.ParseNotLeader(err); !ok {
				t.Errorf("follower get %q = %v, want NOT_LEADER", s, err)
			}
		} else if err != nil {
			t.Errorf("follower stale get %q: %v", s, err)
		}
	}
	_, err := leader.Get(ctx, &v1.GetRequest{Key: []byte(key), Consistency: "bogus"})
	wantCode(t, err, connect.CodeInvalidArgument, "consistency")
	// Direct calls (no interceptor) reject it too.
	_, err = (&kvService{c: c}).Get(ctx, &v1.GetRequest{Key: []byte(key), Consistency: "bogus"})
	wantCode(t, err, connect.CodeInvalidArgument, "consistency")
}

// A node with no replica of the shard cannot serve even a stale read.
func TestStaleReadOnNonReplicaRedirects(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 4, Shards: 8, ReplicationFactor: 2})
	key := "s"
	put(t, leaderOf(t, c, key).kv, key, "v")
	info := c.View().Shards[c.ShardOf([]byte(key))]
	holds := map[string]bool{}
	for _, r := range info.Replicas {
		holds[r.NodeId] = true
	}
	for _, id := range c.NodeIDs() {
		if holds[id] {
			continue
		}
		_, err := dial(t, c.Addr(id), grpcProto).kv.Get(ctxT(t), &v1.GetRequest{Key: []byte(key), Consistency: "stale_ok"})
		h, ok := wire.ParseNotLeader(err)
		if !ok || h.LeaderID != c.Leader(info.Id) {
			t.Fatalf("stale read on non-replica %s = %v, want NOT_LEADER naming %s", id, err, c.Leader(info.Id))
		}
		return
	}
	t.Fatal("every node holds the shard")
}

// The NOT_LEADER reply carries the hint in the message, as a detail, and in
// both the headers and the trailers, over every protocol.
func TestNotLeaderReplyAllProtocols(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 16})
	key := "redirect-me"
	leaderID := c.Leader(c.ShardOf([]byte(key)))
	for _, p := range allProtocols {
		t.Run(p.name, func(t *testing.T) {
			kv := dial(t, c.Addr(followerOf(t, c, key)), p).kv
			ctx, info := connect.NewClientContext(ctxT(t))
			_, err := kv.Put(ctx, &v1.PutRequest{Key: []byte(key), Value: []byte("v")})
			wantNotLeader(t, c, err, info, leaderID)
		})
	}
}

// Vector's writes and leader reads are redirected the same way.
func TestNotLeaderReplyVectorAllProtocols(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 16})
	ns := "redirect-ns"
	leaderID := c.Leader(c.ShardOf([]byte(ns)))
	if _, err := dial(t, c.Addr(leaderID), grpcProto).vector.CreateIndex(ctxT(t),
		&v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 2, Distance: euclid, IndexType: brute}); err != nil {
		t.Fatal(err)
	}
	for _, p := range allProtocols {
		t.Run(p.name, func(t *testing.T) {
			vc := dial(t, c.Addr(followerOf(t, c, ns)), p).vector
			for name, call := range map[string]func(context.Context) error{
				"create": func(ctx context.Context) error {
					_, err := vc.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 2, Distance: euclid, IndexType: brute})
					return err
				},
				"drop": func(ctx context.Context) error {
					_, err := vc.DropIndex(ctx, &v1.DropVectorIndexRequest{Namespace: ns})
					return err
				},
				"insert": func(ctx context.Context) error {
					_, err := vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: "a", Vector: []float32{1, 2}})
					return err
				},
				"delete": func(ctx context.Context) error {
					_, err := vc.Delete(ctx, &v1.VectorDeleteRequest{Namespace: ns, Id: "a"})
					return err
				},
				"search": func(ctx context.Context) error {
					_, err := vc.Search(ctx, &v1.VectorSearchRequest{Namespace: ns, Query: []float32{1, 2}, K: 1})
					return err
				},
				"get": func(ctx context.Context) error {
					_, err := vc.Get(ctx, &v1.VectorGetRequest{Namespace: ns, Id: "a", Consistency: "linearizable"})
					return err
				},
			} {
				t.Run(name, func(t *testing.T) {
					ctx, info := connect.NewClientContext(ctxT(t))
					wantNotLeader(t, c, call(ctx), info, leaderID)
				})
			}
		})
	}
}

// wantNotLeader checks a NOT_LEADER reply naming leaderID: UNAVAILABLE, the
// message, the NotLeader detail, and leader-hint / leader-addr (the
// address) and leader-id (the node id) once each in the headers and the
// trailers.
func wantNotLeader(t *testing.T, c *Cluster, err error, info connect.CallInfo, leaderID string) {
	t.Helper()
	addr := c.Addr(leaderID)
	ce := wantCode(t, err, connect.CodeUnavailable, wire.NotLeaderPrefix, leaderID, addr)
	h, ok := wire.ParseNotLeader(err)
	if !ok || h.LeaderID != leaderID || h.LeaderAddr != addr {
		t.Fatalf("ParseNotLeader = %+v, %v; want %s at %s", h, ok, leaderID, addr)
	}
	var detail *v1.NotLeader
	for _, d := range ce.Details() {
		if m, derr := d.Value(); derr == nil {
			if nl, ok := m.(*v1.NotLeader); ok {
				detail = nl
			}
		}
	}
	if detail.GetLeaderId() != leaderID || detail.GetLeaderAddr() != addr {
		t.Errorf("NotLeader detail = %v, want %s at %s", detail, leaderID, addr)
	}
	if got := ce.Meta().Get(wire.HeaderLeaderHint); got != addr {
		t.Errorf("error meta leader-hint = %q, want the leader's address %q", got, addr)
	}
	for where, md := range map[string]interface{ Values(string) []string }{
		"header":  info.ResponseHeader(),
		"trailer": info.ResponseTrailer(),
	} {
		for k, want := range map[string]string{wire.HeaderLeaderHint: addr, wire.HeaderLeaderAddr: addr, wire.HeaderLeaderID: leaderID} {
			if got := md.Values(k); len(got) != 1 || got[0] != want {
				t.Errorf("%s %s = %q, want [%s]", where, k, got, want)
			}
		}
	}
}
