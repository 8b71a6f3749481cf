package topology

import (
	"testing"
	"time"
)

// routes counts where n stale reads of shard 0 go, each answered at once
// (ReadStarted and ReadEnded with the node's latency from lat).
func routes(m *Manager, n int, avoid string, lat map[string]time.Duration) map[string]int {
	got := map[string]int{}
	for range n {
		a := m.RouteReplica(0, avoid)
		got[a]++
		m.ReadStarted(a)
		m.ReadEnded(a, lat[a], true)
	}
	return got
}

// A slow replica is avoided, the others share the load, and the slow one
// is probed again once its estimate has decayed (here: its last answer
// moved 10 s into the past), winning traffic back when it is fast again.
func TestReplicaChoiceByLatency(t *testing.T) {
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1})
	defer m.Close()
	m.Apply(view(1, "a"))
	lat := map[string]time.Duration{"a:1": 200 * time.Microsecond, "b:1": 200 * time.Microsecond, "c:1": 50 * time.Millisecond}
	routes(m, 30, "", lat) // learn every node
	got := routes(m, 300, "", lat)
	if got["c:1"] != 0 || got["a:1"] < 50 || got["b:1"] < 50 {
		t.Fatalf("with c slow: %v; want c avoided, a and b sharing", got)
	}
	// Time passes with no read on c: its estimate decays below the others'.
	c := m.latencyOf("c:1")
	c.stamp.Store(c.stamp.Load() - int64(10*time.Second))
	lat["c:1"] = 150 * time.Microsecond // and it recovered (a shade faster than the others)
	got = routes(m, 300, "", lat)
	if got["c:1"] < 50 {
		t.Fatalf("after c recovered: %v; want it to win traffic back", got)
	}
	// A still-slow node probed after the decay is avoided again at once.
	lat["c:1"] = 50 * time.Millisecond
	routes(m, 30, "", lat)
	c.stamp.Store(c.stamp.Load() - int64(10*time.Second))
	if got = routes(m, 300, "", lat); got["c:1"] > 2 {
		t.Fatalf("probing a still slow c: %v; want one probe or two", got)
	}
}

// A hedge never goes to the replica it avoids while another is healthy;
// with every other replica down, it goes anyway.
func TestRouteReplicaAvoids(t *testing.T) {
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1})
	defer m.Close()
	m.Apply(view(1, "a"))
	if got := routes(m, 100, "a:1", nil); got["a:1"] != 0 || got["b:1"] == 0 || got["c:1"] == 0 {
		t.Fatalf("avoiding a: %v", got)
	}
	m.Unreachable(0, "b:1")
	m.Unreachable(0, "c:1")
	if got := m.RouteReplica(0, "a:1"); got != "a:1" {
		t.Fatalf("b and c down: hedge went to %q, want a:1", got)
	}
	m.SetRoundRobinReplicas(true)
	m.Apply(view(2, "a"))
	if got := routes(m, 10, "c:1", nil); got["c:1"] != 0 {
		t.Fatalf("round-robin avoiding c: %v", got)
	}
}

// Route does not allocate for a stale read either.
func TestRouteReplicaAllocs(t *testing.T) {
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1})
	defer m.Close()
	m.Apply(view(1, "a"))
	routes(m, 10, "", map[string]time.Duration{"a:1": time.Millisecond})
	if n := testing.AllocsPerRun(100, func() { m.Route(0, false) }); n != 0 {
		t.Fatalf("Route(stale) allocates %v times", n)
	}
}
