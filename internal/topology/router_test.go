package topology

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/backoff"
	"github.com/norikv/norikv-go/internal/wire"
)

// NotLeader is the one place a NOT_LEADER reply is judged: it parses the
// reply, records a trusted leader, asks for a refresh, and says where the
// next attempt goes.
func TestRouterNotLeaderDecides(t *testing.T) {
	refreshes := 0
	r := NewRouter(RouterConfig{Seeds: []string{"s1:1"}, TotalShards: 2, Stale: func() { refreshes++ }})
	if next, nl := r.NotLeader(0, connect.NewError(connect.CodeUnavailable, errors.New("flaky"))); nl || next != "" {
		t.Fatalf("plain UNAVAILABLE judged NOT_LEADER: %q %v", next, nl)
	}
	if refreshes != 0 {
		t.Fatal("a plain error asked for a refresh")
	}
	if next, nl := r.NotLeader(0, wire.NewNotLeaderError(0, "x", "s1:1")); !nl || next != "s1:1" || r.Route(0, true) != "s1:1" {
		t.Fatalf("hint naming a seed: next %q notLeader %v", next, nl)
	}
	if next, nl := r.NotLeader(1, wire.NewNotLeaderError(1, "evil", "evil:443")); !nl || next != "" || r.CachedLeaders() != 1 {
		t.Fatalf("foreign hint: next %q notLeader %v leaders %d", next, nl, r.CachedLeaders())
	}
	if next, nl := r.NotLeader(-1, wire.NewNotLeaderError(0, "x", "s1:1")); !nl || next != "" {
		t.Fatalf("unrouted request: next %q notLeader %v, want no address", next, nl)
	}
	if refreshes != 3 {
		t.Fatalf("refreshes = %d, want one per NOT_LEADER", refreshes)
	}
	// A Router alone cannot learn the shard count.
	if _, err := NewRouter(RouterConfig{Seeds: []string{"s1:1"}}).Shards(context.Background()); connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("Shards without a count = %v", err)
	}
}

// The watch reconnects under its own policy, WatchReconnect by default,
// counted apart from any call's retries.
func TestWatchReconnectPolicyCountedApart(t *testing.T) {
	f := &fakeWatch{err: connect.NewError(connect.CodeUnavailable, errors.New("down"))}
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1, Watch: f.watch,
		Reconnect: backoff.Policy{Initial: time.Millisecond, Max: time.Millisecond, Jitter: -1}})
	m.Start()
	deadline := time.Now().Add(5 * time.Second)
	for m.Reconnects().Count < 3 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	m.Close()
	if s := m.Reconnects(); s.Policy != "WatchReconnect" || s.Count < 3 {
		t.Fatalf("reconnects = %+v, want ≥3 under WatchReconnect", s)
	}
	d := New(Config{Seeds: []string{"s:1"}})
	defer d.Close()
	if p := d.w.reconnect.Policy(); p != backoff.WatchReconnect {
		t.Fatalf("default reconnect policy = %+v", p)
	}
}
