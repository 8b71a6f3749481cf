package norikv

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/norikv/norikv-go/internal/wire"
)

func wireNotLeader(id, addr string) error { return wire.NewNotLeaderError(0, id, addr) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestTopologyEventsAndUnsubscribe(t *testing.T) {
	fc := startServer(t, 3, 4)
	cl := newClient(t, fc, nil)
	var mu sync.Mutex
	var events []TopologyEvent
	unsub := cl.OnTopologyChange(func(e TopologyEvent) {
		mu.Lock()
		events = append(events, e)
		mu.Unlock()
	})
	// A subscriber that blocks must not stall the watcher or others.
	release := make(chan struct{})
	unsubSlow := cl.OnTopologyChange(func(TopologyEvent) { <-release })
	defer close(release)
	defer unsubSlow()

	if err := cl.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(events) }
	waitFor(t, "first event", func() bool { return count() == 1 })
	mu.Lock()
	first := events[0]
	mu.Unlock()
	if first.PreviousEpoch != 0 || len(first.AddedNodes) != 3 {
		t.Fatalf("first event = %+v", first)
	}
	for i := range 3 {
		mustDo(t, fc.TransferLeader(1, fmt.Sprintf("n%d", (i+1)%3+1)))
		waitFor(t, "leader-change event", func() bool { return count() == 2+i })
	}
	mu.Lock()
	last := events[3]
	mu.Unlock()
	if last.CurrentEpoch != fc.Epoch() || len(last.LeaderChanges) != 1 || last.LeaderChanges[0].Shard != 1 {
		t.Fatalf("last event = %+v", last)
	}
	if cv := cl.ClusterView(); cv == nil || cv.Epoch != fc.Epoch() || len(cv.Nodes) != 3 {
		t.Fatalf("ClusterView = %+v", cv)
	}
	unsub()
	unsub() // idempotent
	mustDo(t, fc.TransferLeader(2, "n3"))
	waitFor(t, "view", func() bool { return cl.Stats().Topology.Epoch == fc.Epoch() })
	time.Sleep(50 * time.Millisecond)
	if count() != 4 {
		t.Fatalf("delivered after unsubscribe: %d events", count())
	}
}

func TestWatchSurvivesNodeStop(t *testing.T) {
	fc := startServer(t, 3, 4)
	cl := newClient(t, fc, func(c *Config) { c.Retry = RetryConfig{InitialDelay: 5 * time.Millisecond} })
	if err := cl.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	mustDo(t, fc.StopNode("n1")) // the first seed, where the watch most likely is
	mustDo(t, fc.LeadAll("n3"))
	waitFor(t, "view after node stop", func() bool { return cl.Stats().Topology.Epoch == fc.Epoch() })
	if _, err := cl.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
}

func TestNotLeaderTriggersRefresh(t *testing.T) {
	fc := startServer(t, 3, 4)
	cl := newClient(t, fc, nil)
	if err := cl.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(minRefreshWait)
	watches := fc.Watches()
	// The leader moves but no view is published: only the redirect and
	// the refresh it triggers can teach the client.
	mustDo(t, fc.SetLeaderQuiet(uint32(cl.ShardForKey("k")), "n3"))
	if _, err := cl.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if cl.Stats().Requests.Redirects != 1 {
		t.Fatalf("redirects = %d", cl.Stats().Requests.Redirects)
	}
	// One coalesced refresh: the watch stream is reopened.
	waitFor(t, "refresh", func() bool { return fc.Watches() > watches })
}

// minRefreshWait outlasts the topology manager's minimum interval between
// refreshes.
const minRefreshWait = 250 * time.Millisecond
