package server

import (
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
	shard := c.ShardOf([]byte(key))
	leaderID := c.Leader(shard)
	for _, p := range allProtocols {
		t.Run(p.name, func(t *testing.T) {
			kv := dial(t, c.Addr(followerOf(t, c, key)), p).kv
			ctx, info := connect.NewClientContext(ctxT(t))
			_, err := kv.Put(ctx, &v1.PutRequest{Key: []byte(key), Value: []byte("v")})
			ce := wantCode(t, err, connect.CodeUnavailable, wire.NotLeaderPrefix, leaderID)
			h, ok := wire.ParseNotLeader(err)
			if !ok || h.LeaderID != leaderID || h.LeaderAddr != c.Addr(leaderID) {
				t.Fatalf("ParseNotLeader = %+v, %v", h, ok)
			}
			if got := ce.Meta().Get(wire.HeaderLeaderHint); got != c.Addr(leaderID) {
				t.Errorf("error meta leader-hint = %q, want the leader's address %q", got, c.Addr(leaderID))
			}
			for where, md := range map[string]interface{ Values(string) []string }{
				"header":  info.ResponseHeader(),
				"trailer": info.ResponseTrailer(),
			} {
				if got := md.Values(wire.HeaderLeaderHint); len(got) != 1 || got[0] != c.Addr(leaderID) {
					t.Errorf("%s leader-hint = %q, want [%s]", where, got, c.Addr(leaderID))
				}
				if got := md.Values(wire.HeaderLeaderID); len(got) != 1 || got[0] != leaderID {
					t.Errorf("%s leader-id = %q, want [%s]", where, got, leaderID)
				}
				if got := md.Values(wire.HeaderLeaderAddr); len(got) != 1 || got[0] != c.Addr(leaderID) {
					t.Errorf("%s leader-addr = %q, want [%s]", where, got, c.Addr(leaderID))
				}
			}
		})
	}
}
