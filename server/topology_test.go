package server

import (
	"context"
	"net"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

func TestPlacementBalanced(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 64})
	led := map[string]int{}
	for _, s := range c.View().Shards {
		if len(s.Replicas) != 3 {
			t.Fatalf("shard %d has %d replicas, want 3", s.Id, len(s.Replicas))
		}
		for _, r := range s.Replicas {
			if r.Leader {
				led[r.NodeId]++
			}
		}
	}
	for _, id := range c.NodeIDs() {
		if n := led[id]; n < 21 || n > 22 {
			t.Fatalf("node %s leads %d of 64 shards: %v", id, n, led)
		}
	}
}

func TestWatchClusterFirstViewThenChanges(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 8})
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(ctxT(t))
			defer cancel()
			stream, err := dial(t, c.Addrs()[0], p).meta.WatchCluster(ctx, &v1.ClusterView{})
			if err != nil {
				t.Fatal(err)
			}
			defer stream.Close()
			if !stream.Receive() {
				t.Fatal(stream.Err())
			}
			first := stream.Msg()
			if first.Epoch != c.View().Epoch || len(first.Nodes) != 3 || len(first.Shards) != 8 {
				t.Fatalf("first view: epoch %d (cluster %d), %d nodes, %d shards", first.Epoch, c.View().Epoch, len(first.Nodes), len(first.Shards))
			}
			for i, n := range first.Nodes {
				if n.Id != c.NodeIDs()[i] || n.Addr != c.Addrs()[i] || n.Role != "voter" {
					t.Fatalf("node %d = %v", i, n)
				}
			}
			target := ""
			for _, r := range first.Shards[5].Replicas {
				if !r.Leader {
					target = r.NodeId
				}
			}
			if err := c.TransferLeader(5, target); err != nil {
				t.Fatal(err)
			}
			if !stream.Receive() {
				t.Fatal(stream.Err())
			}
			next := stream.Msg()
			if next.Epoch <= first.Epoch {
				t.Fatalf("epoch %d after %d", next.Epoch, first.Epoch)
			}
			for _, r := range next.Shards[5].Replicas {
				if r.Leader != (r.NodeId == target) {
					t.Fatalf("shard 5 replicas after transfer to %s: %v", target, next.Shards[5].Replicas)
				}
			}
		})
	}
}

// A watcher that never reads must not hold up topology changes, and when
// it reads again it gets the newest view.
func TestWatchSlowWatcherNeverBlocks(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 4})
	ctx, cancel := context.WithCancel(ctxT(t))
	defer cancel()
	stream, err := dial(t, c.Addrs()[1], grpcProto).meta.WatchCluster(ctx, &v1.ClusterView{})
	if err != nil {
		t.Fatal(err)
	}
	defer stream.Close()
	if !stream.Receive() {
		t.Fatal(stream.Err())
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range 500 {
			if err := c.TransferLeader(0, c.NodeIDs()[i%3]); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("topology changes blocked behind a slow watcher")
	}
	want := c.View().Epoch
	for stream.Receive() {
		if stream.Msg().Epoch == want {
			return
		}
	}
	t.Fatalf("stream ended before the latest epoch %d: %v", want, stream.Err())
}

func TestWatchEndsWhenNodeStopsOrClusterCloses(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 2, Shards: 4})
	open := func(addr string) *connect.ServerStreamForClient[v1.ClusterView] {
		s, err := dial(t, addr, grpcProto).meta.WatchCluster(ctxT(t), &v1.ClusterView{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		if !s.Receive() {
			t.Fatal(s.Err())
		}
		return s
	}
	s1, s2 := open(c.Addrs()[0]), open(c.Addrs()[1])
	if err := c.StopNode("n1"); err != nil {
		t.Fatal(err)
	}
	for s1.Receive() {
	}
	// n2's stream saw n1 go down.
	if !s2.Receive() || s2.Msg().Nodes[0].Role != "down" {
		t.Fatalf("n2 stream: %v %v", s2.Msg(), s2.Err())
	}
	c.Close()
	for s2.Receive() {
	}
}

func TestStopAndRestartNode(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 16})
	key := "failover"
	shard := c.ShardOf([]byte(key))
	old := c.Leader(shard)
	addr := c.Addr(old)
	v1st := put(t, leaderOf(t, c, key).kv, key, "a")
	epoch := c.View().Epoch
	if err := c.StopNode(old); err != nil {
		t.Fatal(err)
	}
	if err := c.StopNode(old); err != nil {
		t.Fatalf("second stop: %v", err)
	}
	if now := c.Leader(shard); now == "" || now == old {
		t.Fatalf("leader after stopping %s = %q", old, now)
	}
	view := c.View()
	if view.Epoch <= epoch {
		t.Fatalf("epoch %d did not grow past %d", view.Epoch, epoch)
	}
	for _, s := range view.Shards {
		for _, r := range s.Replicas {
			if r.NodeId == old && r.Leader {
				t.Fatalf("stopped node still leads shard %d", s.Id)
			}
		}
	}
	if conn, err := net.DialTimeout("tcp", addr, 2*time.Second); err == nil {
		conn.Close()
		t.Fatalf("stopped node's port %s accepts connections", addr)
	}
	// Data survives (shared state) and the new leader is a new term.
	kv := leaderOf(t, c, key).kv
	got, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte(key)})
	if err != nil || string(got.Value) != "a" {
		t.Fatalf("get after failover = %v, %v", got, err)
	}
	if v := put(t, kv, key, "b"); v.Term <= v1st.Term {
		t.Fatalf("term %d after failover, %d before", v.Term, v1st.Term)
	}
	// Admin refuses to make a down node leader.
	_, err = dial(t, c.Addr(c.Leader(shard)), grpcProto).admin.TransferShard(ctxT(t), &v1.ShardInfo{Id: shard, Replicas: []*v1.ShardReplica{{NodeId: old, Leader: true}}})
	wantCode(t, err, connect.CodeFailedPrecondition, "down")

	if err := c.RestartNode(old); err != nil {
		t.Fatal(err)
	}
	if c.Addr(old) != addr {
		t.Fatalf("restarted on %s, was %s", c.Addr(old), addr)
	}
	if role := c.View().Nodes[nodeIndex(c, old)].Role; role != "voter" {
		t.Fatalf("role after restart = %q", role)
	}
	if err := c.TransferLeader(shard, old); err != nil {
		t.Fatal(err)
	}
	if got := put(t, dial(t, addr, grpcProto).kv, key, "c"); got.Term <= v1st.Term {
		t.Fatalf("version %v", got)
	}
}

// With every replica stopped a shard has no leader; the first replica back
// takes it.
func TestShardWithoutLiveReplica(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 2, Shards: 2, ReplicationFactor: 1})
	for _, id := range c.NodeIDs() {
		if err := c.StopNode(id); err != nil {
			t.Fatal(err)
		}
	}
	if l := c.Leader(0); l != "" {
		t.Fatalf("leader with all nodes down = %q", l)
	}
	if err := c.RestartNode("n1"); err != nil {
		t.Fatal(err)
	}
	if l := c.Leader(0); l != "n1" {
		t.Fatalf("leader after restart = %q", l)
	}
	if err := c.RestartNode("n1"); err != nil {
		t.Fatalf("restarting a running node: %v", err)
	}
}

func TestAdminTransferShard(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 4, Shards: 8, ReplicationFactor: 2})
	admin := dial(t, c.Addrs()[3], protocols[2]).admin
	ctx := ctxT(t)
	info := c.View().Shards[1]
	var follower, outsider string
	holds := map[string]bool{}
	for _, r := range info.Replicas {
		holds[r.NodeId] = true
		if !r.Leader {
			follower = r.NodeId
		}
	}
	for _, id := range c.NodeIDs() {
		if !holds[id] {
			outsider = id
		}
	}
	epoch := c.View().Epoch
	res, err := admin.TransferShard(ctx, &v1.ShardInfo{Id: 1, Replicas: []*v1.ShardReplica{{NodeId: follower, Leader: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if c.Leader(1) != follower || c.View().Epoch <= epoch {
		t.Fatalf("leader %s, epoch %d (was %d)", c.Leader(1), c.View().Epoch, epoch)
	}
	for _, r := range res.Replicas {
		if r.Leader != (r.NodeId == follower) {
			t.Fatalf("reply %v", res)
		}
	}
	_, err = admin.TransferShard(ctx, &v1.ShardInfo{Id: 1, Replicas: []*v1.ShardReplica{{NodeId: outsider, Leader: true}}})
	wantCode(t, err, connect.CodeInvalidArgument, "no replica")
	_, err = admin.TransferShard(ctx, &v1.ShardInfo{Id: 1, Replicas: []*v1.ShardReplica{{NodeId: follower}}})
	wantCode(t, err, connect.CodeInvalidArgument, "leader = true")
	_, err = admin.TransferShard(ctx, &v1.ShardInfo{Id: 99, Replicas: []*v1.ShardReplica{{NodeId: follower, Leader: true}}})
	wantCode(t, err, connect.CodeInvalidArgument, "does not exist")
	_, err = admin.TransferShard(ctx, &v1.ShardInfo{Id: 1, Replicas: []*v1.ShardReplica{{NodeId: "n9", Leader: true}}})
	wantCode(t, err, connect.CodeInvalidArgument, "does not exist")

	snap, err := admin.SnapshotShard(ctx, &v1.ShardInfo{Id: 1})
	if err != nil || snap.Id != 1 || len(snap.Replicas) != 2 {
		t.Fatalf("snapshot = %v, %v", snap, err)
	}
	_, err = admin.SnapshotShard(ctx, &v1.ShardInfo{Id: 8})
	wantCode(t, err, connect.CodeInvalidArgument)
}

func TestCloseIdempotentAndConfigErrors(t *testing.T) {
	c, err := Start(Config{Nodes: 1, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.StopNode("n1"); err == nil {
		t.Fatal("StopNode after Close succeeded")
	}
	if err := c.StopNode("n7"); err == nil {
		t.Fatal("StopNode of unknown node succeeded")
	}
	for _, cfg := range []Config{{Nodes: 2, ReplicationFactor: 3}, {BasePort: 70000}} {
		if _, err := Start(cfg); err == nil {
			t.Fatalf("Start(%+v) succeeded", cfg)
		}
	}
}

func nodeIndex(c *Cluster, id string) int {
	for i, n := range c.NodeIDs() {
		if n == id {
			return i
		}
	}
	return -1
}

func TestShutdownGraceful(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 2, Shards: 2})
	s, err := dial(t, c.Addrs()[0], grpcProto).meta.WatchCluster(ctxT(t), &v1.ClusterView{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !s.Receive() {
		t.Fatal(s.Err())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open watch stream: %v", err)
	}
	for s.Receive() {
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}
