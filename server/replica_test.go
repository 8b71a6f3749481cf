package server

import (
	"testing"
	"time"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// laggingNode returns the id of a lagging follower of key's shard (any
// follower if none lags, as on a server without lag).
func laggingNode(t *testing.T, c *Cluster, key string) string {
	t.Helper()
	s := c.shardFor([]byte(key))
	s.mu.RLock()
	lag := s.laggingReplicas()
	s.mu.RUnlock()
	if len(lag) == 0 {
		return followerOf(t, c, key)
	}
	return c.nodes[lag[0]].id
}

func staleGet(t *testing.T, c *Cluster, node, key string) *v1.GetResponse {
	t.Helper()
	res, err := dial(t, c.Addr(node), grpcProto).kv.Get(ctxT(t), &v1.GetRequest{Key: []byte(key), Consistency: "stale_ok"})
	if err != nil {
		t.Fatalf("stale get %q on %s: %v", key, node, err)
	}
	return res
}

// A stale_ok read on a lagging follower returns the old state until the
// lag has passed; the leader and the synchronous follower have the write at
// once.
func TestReplicationLagStaleRead(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 3, Shards: 4, ReplicationLag: 200 * time.Millisecond})
	const key = "lagged"
	leader := leaderOf(t, c, key)
	v1st := put(t, leader.kv, key, "one")
	clk.advance(time.Second)
	lag := laggingNode(t, c, key)
	if got := staleGet(t, c, lag, key); got.Version == nil || string(got.Value) != "one" {
		t.Fatalf("after the lag, stale get = %q %v, want one %v", got.Value, got.Version, v1st)
	}
	v2nd := put(t, leader.kv, key, "two")
	if got := staleGet(t, c, lag, key); string(got.Value) != "one" || got.Version.GetIndex() != v1st.Index {
		t.Fatalf("right after the put, lagging follower = %q %v, want the old one %v", got.Value, got.Version, v1st)
	}
	for _, r := range c.View().Shards[c.ShardOf([]byte(key))].Replicas {
		if r.NodeId == lag {
			continue
		}
		if got := staleGet(t, c, r.NodeId, key); string(got.Value) != "two" {
			t.Fatalf("replica %s (leader or synchronous) = %q, want two", r.NodeId, got.Value)
		}
	}
	clk.advance(199 * time.Millisecond)
	if got := staleGet(t, c, lag, key); string(got.Value) != "one" {
		t.Fatalf("before the lag passed, lagging follower = %q, want one", got.Value)
	}
	clk.advance(time.Millisecond)
	if got := staleGet(t, c, lag, key); string(got.Value) != "two" || got.Version.GetIndex() != v2nd.Index {
		t.Fatalf("after the lag, lagging follower = %q %v, want two %v", got.Value, got.Version, v2nd)
	}
	// A delete lags too.
	if _, err := leader.kv.Delete(ctxT(t), &v1.DeleteRequest{Key: []byte(key)}); err != nil {
		t.Fatal(err)
	}
	if got := staleGet(t, c, lag, key); got.Version == nil {
		t.Fatal("a delete reached the lagging follower at once")
	}
	clk.advance(200 * time.Millisecond)
	if got := staleGet(t, c, lag, key); got.Version != nil {
		t.Fatalf("after the lag the deleted key is still there: %v", got.Version)
	}
}

// Leadership moved to a lagging follower (transfer), then away again by a
// failover, loses no acknowledged write; leader reads never see the lag.
func TestReplicationLagTransferThenFailover(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 1, ReplicationLag: time.Hour})
	keys := keysOnShard(c, 0, 20)
	vers := map[string]*v1.Version{}
	for i, k := range keys {
		vers[k] = put(t, leaderOf(t, c, k).kv, k, "v")
		if i == 9 {
			if err := c.TransferLeader(0, laggingNode(t, c, k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	check := func(when string) {
		t.Helper()
		for _, k := range keys {
			for _, cons := range []string{"lease", "linearizable"} {
				res, err := leaderOf(t, c, k).kv.Get(ctxT(t), &v1.GetRequest{Key: []byte(k), Consistency: cons})
				if err != nil {
					t.Fatal(err)
				}
				if res.Version.GetIndex() != vers[k].Index || res.Version.GetTerm() != vers[k].Term {
					t.Fatalf("%s: %s get %q = %v, want the acknowledged %v", when, cons, k, res.Version, vers[k])
				}
			}
		}
	}
	check("after the transfer to a lagging follower")
	if err := c.StopNode(c.Leader(0)); err != nil {
		t.Fatal(err)
	}
	check("after the failover")
}

// Keys that expire are reclaimed from the lagging copies too.
func TestReplicationLagReapsExpiredKeys(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 3, Shards: 1, ReplicationLag: 10 * time.Millisecond})
	keys := keysOnShard(c, 0, 50)
	for _, k := range keys {
		if _, err := leaderOf(t, c, k).kv.Put(ctxT(t), &v1.PutRequest{Key: []byte(k), Value: []byte("v"), TtlMs: 100}); err != nil {
			t.Fatal(err)
		}
	}
	s := c.shards[0]
	lagged := func() int {
		s.mu.RLock()
		defer s.mu.RUnlock()
		n := 0
		for _, cp := range s.rep.copies {
			cp.mu.Lock()
			s.rep.advance(cp, clk.now())
			n += len(cp.kv)
			cp.mu.Unlock()
		}
		return n
	}
	clk.advance(50 * time.Millisecond)
	if n := lagged(); n != len(keys) {
		t.Fatalf("lagging copies hold %d keys, want %d", n, len(keys))
	}
	clk.advance(time.Second)
	c.reapOnce()
	if n := lagged(); n != 0 {
		t.Fatalf("after the reap the lagging copies still hold %d expired keys", n)
	}
}
