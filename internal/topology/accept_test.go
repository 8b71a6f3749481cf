package topology

import (
	"sync"
	"testing"
	"time"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// of is view with an incarnation.
func of(inc string, epoch uint64, leaders ...string) *v1.ClusterView {
	v := view(epoch, leaders...)
	v.Incarnation = inc
	return v
}

func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cur, v  *v1.ClusterView
		retired []string
		want    verdict
	}{
		{"first view", nil, of("", 1), nil, newer},
		{"same incarnation, newer", of("A", 3), of("A", 4), nil, newer},
		{"same incarnation, same epoch", of("A", 3), of("A", 3), nil, older},
		{"same incarnation, older", of("A", 3), of("A", 1), nil, older},
		{"another incarnation, lower epoch", of("A", 3), of("B", 1), nil, restarted},
		{"another incarnation, higher epoch", of("A", 3), of("B", 9), nil, restarted},
		{"an incarnation left behind", of("B", 1), of("A", 9), []string{"A"}, older},
		{"no incarnation, newer", of("", 3), of("", 4), nil, newer},
		{"no incarnation, same epoch", of("", 3), of("", 3), nil, older},
		{"no incarnation, lower", of("", 3), of("", 1), nil, unsure},
		{"server gained one, lower", of("", 3), of("A", 1), nil, unsure},
		{"server lost it, lower", of("A", 3), of("", 1), nil, unsure},
		{"server lost it, newer", of("A", 3), of("", 4), nil, newer},
	} {
		if got := judge(tc.cur, tc.v, tc.retired); got != tc.want {
			t.Errorf("%s: judge = %d, want %d", tc.name, got, tc.want)
		}
	}
}

// events collects a Manager's events.
type events struct {
	mu sync.Mutex
	ev []Event
}

func (e *events) add(ev Event) { e.mu.Lock(); e.ev = append(e.ev, ev); e.mu.Unlock() }
func (e *events) all() []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]Event(nil), e.ev...)
}

func waitEvents(t *testing.T, e *events, n int) []Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(e.all()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("have %d events, want %d: %+v", len(e.all()), n, e.all())
		}
		time.Sleep(time.Millisecond)
	}
	return e.all()
}

// A restarted cluster (another incarnation) is adopted at once whatever
// its epoch; an older view of the incarnation in use is still ignored, and
// so is any view of an incarnation the client left.
func TestApplyFollowsRestartIgnoresOlder(t *testing.T) {
	m := New(Config{Seeds: []string{"s:1"}, TotalShards: 2})
	defer m.Close()
	var e events
	m.Subscribe(e.add)
	m.Apply(of("A", 3, "b", "c"))
	m.Apply(of("A", 2, "a", "a")) // older, same cluster
	if m.View().GetEpoch() != 3 || m.Route(0, true) != "b:1" {
		t.Fatalf("an older view of the same incarnation was installed: %v", m.View())
	}
	m.Apply(of("B", 1, "a", "c")) // the cluster restarted
	if v := m.View(); v.GetIncarnation() != "B" || v.GetEpoch() != 1 || m.Route(0, true) != "a:1" {
		t.Fatalf("the restarted cluster's view was not adopted: %v", v)
	}
	m.Apply(of("A", 4, "b", "b")) // a straggler of the old run
	m.Apply(of("B", 1, "b", "b")) // not newer
	if v := m.View(); v.GetIncarnation() != "B" || m.Route(0, true) != "a:1" {
		t.Fatalf("went back: %v", v)
	}
	m.Apply(of("B", 2, "c", "c"))
	ev := waitEvents(t, &e, 3)
	if len(ev) != 3 {
		t.Fatalf("events %+v", ev)
	}
	if r := ev[1]; !r.Restarted || r.PreviousEpoch != 3 || r.CurrentEpoch != 1 ||
		len(r.LeaderChanges) != 1 || r.LeaderChanges[0] != (LeaderChange{Shard: 0, Previous: "b", Current: "a"}) {
		t.Fatalf("restart event %+v", r)
	}
	if ev[0].Restarted || ev[2].Restarted || ev[2].PreviousEpoch != 1 || ev[2].CurrentEpoch != 2 {
		t.Fatalf("events %+v", ev)
	}
}

// A server without incarnations: a lower epoch on the watch stream is
// adopted only once the stream has held it for EpochDropGrace; a node
// that catches up within the grace period never takes the client back.
func TestEpochDropWithoutIncarnation(t *testing.T) {
	f := &fakeWatch{views: make(chan *v1.ClusterView)}
	const grace = 150 * time.Millisecond
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1, Watch: f.watch, EpochDropGrace: grace})
	defer m.Close()
	var e events
	m.Subscribe(e.add)
	m.Start()
	f.views <- of("", 5, "a")
	waitEvents(t, &e, 1)

	// A lagging node: 3, then caught up to 6 within the grace period.
	f.views <- of("", 3, "b")
	f.views <- of("", 6, "c")
	time.Sleep(2 * grace)
	if ev := e.all(); len(ev) != 2 || ev[1].CurrentEpoch != 6 || ev[1].Restarted || m.View().GetEpoch() != 6 {
		t.Fatalf("after a lagging node caught up: view %d, events %+v", m.View().GetEpoch(), ev)
	}

	// A restart that lost the epoch: 1, then 2, and nothing newer than 6.
	began := time.Now()
	f.views <- of("", 1, "a")
	f.views <- of("", 2, "b")
	ev := waitEvents(t, &e, 3)
	if held := time.Since(began); held < grace {
		t.Fatalf("adopted after %v, before the grace period %v", held, grace)
	}
	if r := ev[2]; !r.Restarted || r.PreviousEpoch != 6 || r.CurrentEpoch != 2 || m.Route(0, true) != "b:1" {
		t.Fatalf("restart event %+v, routes to %s", r, m.Route(0, true))
	}
	// From then on, the new run's epochs count.
	f.views <- of("", 3, "c")
	if ev := waitEvents(t, &e, 4); ev[3].CurrentEpoch != 3 || ev[3].Restarted {
		t.Fatalf("events %+v", ev)
	}
}
