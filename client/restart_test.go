package norikv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/norikv/norikv-go/norikvtest"
)

func leaderIn(v *ClusterView, shard uint32) string {
	for _, r := range v.Shards[shard].Replicas {
		if r.Leader {
			return r.NodeID
		}
	}
	return ""
}

// A long-running client follows a cluster restarted under it (an
// in-memory "norikv serve" stopped and started again: a new cluster, back
// at epoch 1 with its initial leaders): its view, its topology events and
// its calls move to the new cluster as soon as the watch reconnects, not
// once the new cluster's epoch happens to pass the old one.
func TestClientFollowsRestartedCluster(t *testing.T) {
	fc := norikvtest.Start(t, norikvtest.WithNodes(3), norikvtest.WithShards(16))
	cl := newClient(t, fc, nil)
	var mu sync.Mutex
	var events []TopologyEvent
	cl.OnTopologyChange(func(e TopologyEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	})
	ctx := context.Background()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	const shard = 5
	initial := fc.Leader(shard)
	// Move the shard's leader twice: the client is at epoch 3, the shard
	// led by another node than the one a fresh cluster starts with.
	for _, to := range []string{"n1", "n2", "n3"} {
		if to != initial && fc.Leader(shard) != to {
			mustDo(t, fc.TransferLeader(shard, to))
		}
	}
	moved := fc.Leader(shard)
	waitFor(t, "the client to see epoch 3", func() bool { return cl.ClusterView().Epoch == fc.Epoch() })
	if fc.Epoch() != 3 || moved == initial {
		t.Fatalf("setup: epoch %d, shard %d led by %s (initially %s)", fc.Epoch(), shard, moved, initial)
	}
	oldEpoch := fc.Epoch()

	began := time.Now()
	fc = fc.Restart(t)
	if fc.Epoch() >= oldEpoch || fc.Leader(shard) != initial {
		t.Fatalf("setup: the restarted cluster is at epoch %d, shard %d led by %s", fc.Epoch(), shard, fc.Leader(shard))
	}
	waitFor(t, "the client to adopt the restarted cluster's view", func() bool {
		v := cl.ClusterView()
		return v.Epoch == fc.Epoch() && leaderIn(v, shard) == initial
	})
	// Measured, not asserted: a loaded CI machine may take longer. The
	// issue asks for about a second.
	t.Logf("the client adopted the restarted cluster's view %v after the restart", time.Since(began).Round(time.Millisecond))
	// Events reach a subscriber on its own goroutine, after the view is
	// installed: wait for the one that installed it.
	var last TopologyEvent
	waitFor(t, "the topology event of the restarted cluster's view", func() bool {
		mu.Lock()
		defer mu.Unlock()
		if len(events) == 0 {
			return false
		}
		last = events[len(events)-1]
		return last.CurrentEpoch == fc.Epoch()
	})
	if last.PreviousEpoch != oldEpoch || last.CurrentEpoch != fc.Epoch() || !last.Restarted {
		t.Fatalf("restart event = %+v; want epoch %d -> %d, Restarted", last, oldEpoch, fc.Epoch())
	}
	if len(last.LeaderChanges) == 0 {
		t.Fatalf("restart event names no leader change, though shard %d moved back from %s to %s", shard, moved, initial)
	}
	if v := cl.ClusterView(); v.Incarnation != fc.View().GetIncarnation() || v.Incarnation == "" {
		t.Fatalf("client incarnation %q, cluster's %q", v.Incarnation, fc.View().GetIncarnation())
	}

	// The new cluster's later views are followed too, and calls work.
	to := "n1"
	if initial == "n1" {
		to = "n2"
	}
	mustDo(t, fc.TransferLeader(shard, to))
	waitFor(t, "the next view of the restarted cluster", func() bool { return leaderIn(cl.ClusterView(), shard) == to })
	if _, err := cl.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}
