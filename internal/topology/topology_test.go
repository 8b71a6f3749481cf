package topology

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.uber.org/goleak"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/backoff"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func view(epoch uint64, leaders ...string) *v1.ClusterView {
	v := &v1.ClusterView{Epoch: epoch}
	for _, id := range []string{"a", "b", "c"} {
		v.Nodes = append(v.Nodes, &v1.ClusterNode{Id: id, Addr: id + ":1"})
	}
	for s, l := range leaders {
		si := &v1.ShardInfo{Id: uint32(s)}
		for _, id := range []string{"a", "b", "c"} {
			si.Replicas = append(si.Replicas, &v1.ShardReplica{NodeId: id, Leader: id == l})
		}
		v.Shards = append(v.Shards, si)
	}
	return v
}

func TestRouteSeedsThenViewThenHints(t *testing.T) {
	m := New(Config{Seeds: []string{"s1:1", "s2:1"}, TotalShards: 2})
	defer m.Close()
	if got := m.Route(0, true); got != "s1:1" && got != "s2:1" {
		t.Fatalf("before view: %q", got)
	}
	m.Apply(view(1, "b", "c"))
	if m.Route(0, true) != "b:1" || m.Route(1, true) != "c:1" {
		t.Fatal("view leaders not used")
	}
	if m.CachedLeaders() != 2 || m.TotalNodes() != 3 {
		t.Fatal("counts")
	}
	// A hint by id resolves through the view.
	if addr := m.learnLeader(0, "a", ""); addr != "a:1" || m.Route(0, true) != "a:1" {
		t.Fatalf("hint by id: %q", addr)
	}
	// A hint by address is followed if the view or the seeds name it.
	if addr := m.learnLeader(0, "", "b:1"); addr != "b:1" || m.Route(0, true) != "b:1" {
		t.Fatalf("hint by addr: %q", addr)
	}
	if addr := m.learnLeader(1, "", "s2:1"); addr != "s2:1" {
		t.Fatalf("hint naming a seed: %q", addr)
	}
	m.learnLeader(1, "c", "c:1")
	// An older view is ignored; a newer one resets the cache.
	m.Apply(view(1, "c", "c"))
	if m.Route(0, true) != "b:1" {
		t.Fatal("stale view applied")
	}
	m.Apply(view(2, "c", "c"))
	if m.Route(0, true) != "c:1" {
		t.Fatal("newer view not applied")
	}
	// Unreachable leaders are forgotten; replicas are used meanwhile.
	m.Unreachable(0, "c:1")
	if got := m.Route(0, true); got != "a:1" && got != "b:1" {
		t.Fatalf("after unreachable: %q", got)
	}
	// Stale reads spread over replicas.
	seen := map[string]bool{}
	for range 30 {
		seen[m.Route(1, false)] = true
	}
	if len(seen) < 2 {
		t.Fatalf("stale reads went to %v", seen)
	}
}

// A NOT_LEADER reply may name any host; only seeds and nodes of the view
// are dialled. A foreign address or an unknown id leaves the leader
// unknown, so the next attempt goes to the shard's replicas.
func TestForeignLeaderHintIgnored(t *testing.T) {
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1})
	defer m.Close()
	if addr := m.learnLeader(0, "", "evil:443"); addr != "" || m.CachedLeaders() != 0 || m.Route(0, true) != "s1:1" {
		t.Fatalf("before a view, foreign hint followed: %q", addr)
	}
	m.Apply(view(1, "a"))
	for _, h := range [][2]string{{"", "evil:443"}, {"zz", ""}, {"zz", "evil:443"}} {
		if addr := m.learnLeader(0, h[0], h[1]); addr != "" {
			t.Fatalf("hint %q followed to %q", h, addr)
		}
		if got := m.Route(0, true); got != "a:1" && got != "b:1" && got != "c:1" {
			t.Fatalf("after hint %q routed to %q", h, got)
		}
	}
	// A known id with a foreign address: the view's address wins.
	if addr := m.learnLeader(0, "b", "evil:443"); addr != "b:1" {
		t.Fatalf("known id, foreign addr: %q", addr)
	}
}

func TestRouteAllocatesNothing(t *testing.T) {
	m := New(Config{Seeds: []string{"s:1"}, TotalShards: 4})
	defer m.Close()
	m.Apply(view(1, "a", "b", "c", "a"))
	if n := testing.AllocsPerRun(100, func() { _ = m.Route(2, true); _ = m.Route(1, false) }); n != 0 {
		t.Fatalf("Route allocates %v", n)
	}
}

func TestDiff(t *testing.T) {
	a := buildSnapshot(view(1, "a", "b"), 2)
	v := view(2, "a", "c")
	v.Nodes = v.Nodes[1:] // drop a
	v.Nodes = append(v.Nodes, &v1.ClusterNode{Id: "d", Addr: "d:1"})
	ev := diff(a, buildSnapshot(v, 2))
	if ev.PreviousEpoch != 1 || ev.CurrentEpoch != 2 {
		t.Fatalf("epochs %+v", ev)
	}
	if len(ev.AddedNodes) != 1 || ev.AddedNodes[0] != "d" || len(ev.RemovedNodes) != 1 || ev.RemovedNodes[0] != "a" {
		t.Fatalf("nodes %+v", ev)
	}
	// shard 0's leader "a" is no longer a node → ""; shard 1 b → c.
	if len(ev.LeaderChanges) != 2 || ev.LeaderChanges[1] != (LeaderChange{Shard: 1, Previous: "b", Current: "c"}) {
		t.Fatalf("leaders %+v", ev.LeaderChanges)
	}
}

// fakeWatch serves views from a channel; errs decides each stream's end.
type fakeWatch struct {
	mu    sync.Mutex
	addrs []string
	opens atomic.Int32
	err   error
	views chan *v1.ClusterView
}

func (f *fakeWatch) watch(ctx context.Context, addr string, onView func(*v1.ClusterView)) error {
	f.opens.Add(1)
	f.mu.Lock()
	f.addrs = append(f.addrs, addr)
	err := f.err
	f.mu.Unlock()
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case v := <-f.views:
			onView(v)
		}
	}
}

// Until a view arrives every seed is asked at once, round after round,
// with a backoff between rounds.
func TestWatchAsksEverySeedWithBackoff(t *testing.T) {
	f := &fakeWatch{err: connect.NewError(connect.CodeUnavailable, errors.New("down")), views: make(chan *v1.ClusterView)}
	m := New(Config{Seeds: []string{"s1:1", "s2:1", "s3:1"}, TotalShards: 1, Watch: f.watch,
		Reconnect: backoff.Policy{Initial: time.Millisecond, Max: 2 * time.Millisecond, Jitter: -1}})
	m.Start()
	deadline := time.Now().Add(5 * time.Second)
	for f.opens.Load() < 6 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	m.Close()
	f.mu.Lock()
	defer f.mu.Unlock()
	n := map[string]int{}
	for _, a := range f.addrs {
		n[a]++
	}
	if len(f.addrs) < 6 || n["s1:1"] < 2 || n["s2:1"] < 2 || n["s3:1"] < 2 {
		t.Fatalf("opened %v", f.addrs)
	}
}

// hungWatch accepts a stream on addr and never sends anything; any other
// address gets views from next.
type hungWatch struct {
	hung   string
	closed atomic.Int32 // hung streams that ended
	next   func(ctx context.Context, addr string, onView func(*v1.ClusterView)) error
}

func (h *hungWatch) watch(ctx context.Context, addr string, onView func(*v1.ClusterView)) error {
	if addr == h.hung {
		<-ctx.Done()
		h.closed.Add(1)
		return ctx.Err()
	}
	return h.next(ctx, addr, onView)
}

// One seed that never answers does not delay the first view: the seeds
// are asked at once, and the hung stream is closed when another wins.
func TestFirstViewDespiteHungSeed(t *testing.T) {
	h := &hungWatch{hung: "s1:1", next: func(ctx context.Context, _ string, onView func(*v1.ClusterView)) error {
		onView(view(1, "a"))
		<-ctx.Done()
		return ctx.Err()
	}}
	m := New(Config{Seeds: []string{"s1:1", "s2:1", "s3:1"}, TotalShards: 1, Watch: h.watch, SeedTimeout: time.Hour})
	defer m.Close()
	m.Start()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("first view after %v", el)
	}
	deadline := time.Now().Add(5 * time.Second)
	for h.closed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if h.closed.Load() != 1 {
		t.Fatal("the hung stream was not closed once another seed won")
	}
}

// A seed that sends no view within SeedTimeout is given up on and marked
// suspect, but a timeout is not a refusal: WaitReady keeps the watch asking
// until its ctx ends, then reports ctx's error with the seed's.
func TestSeedTimeoutMarksSuspect(t *testing.T) {
	h := &hungWatch{hung: "s1:1"}
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1, Watch: h.watch, SeedTimeout: 50 * time.Millisecond,
		Reconnect: backoff.Policy{Initial: time.Millisecond, Jitter: -1}})
	defer m.Close()
	m.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := m.WaitReady(ctx)
	if !errors.Is(err, context.DeadlineExceeded) || ctx.Err() == nil || !strings.Contains(err.Error(), "no cluster view from s1:1") {
		t.Fatalf("WaitReady = %v, want ctx's deadline joined with the seed's timeout", err)
	}
	if !m.isSuspect("s1:1") {
		t.Fatal("hung seed not suspect")
	}
	if n := h.closed.Load(); n < 2 {
		t.Fatalf("the seed was asked %d times in 2s (seed timeout 50ms, doubling to 400ms), want it asked again", n)
	}
}

// slowWatch sends its first view only to a stream that stays open for
// delay: a node on a host too busy to answer within SeedTimeout.
type slowWatch struct {
	delay time.Duration
	opens atomic.Int32
}

func (s *slowWatch) watch(ctx context.Context, _ string, onView func(*v1.ClusterView)) error {
	s.opens.Add(1)
	select {
	case <-time.After(s.delay):
		onView(view(1, "a"))
	case <-ctx.Done():
		return ctx.Err()
	}
	<-ctx.Done()
	return ctx.Err()
}

// A seed slower than SeedTimeout is asked again with a longer timeout
// (doubling, up to 8×) while the caller's ctx has time: a busy host gets
// its view in the time the caller gave, both with the background watch
// and with a one-shot fetch (the CLI's).
func TestSlowSeedAnswersWithinCtx(t *testing.T) {
	for _, oneShot := range []bool{false, true} {
		s := &slowWatch{delay: 300 * time.Millisecond}
		m := New(Config{Seeds: []string{"s1:1", "s2:1"}, TotalShards: 1, Watch: s.watch, SeedTimeout: 50 * time.Millisecond,
			NoBackgroundWatch: oneShot, Reconnect: backoff.Policy{Initial: time.Millisecond, Jitter: -1}})
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		var err error
		if oneShot {
			err = m.FetchOnce(ctx)
		} else {
			m.Start()
			err = m.WaitReady(ctx)
		}
		cancel()
		m.Close()
		if err != nil {
			t.Fatalf("one-shot %v: %v, want the view (each seed answers after 300ms, SeedTimeout 50ms)", oneShot, err)
		}
		if n := s.opens.Load(); n < 4 {
			t.Fatalf("one-shot %v: %d streams opened, want the two seeds asked more than once", oneShot, n)
		}
	}
}

// The doubled seed timeout stops at 8× and never wraps negative (a
// negative timeout would fire at once).
func TestSeedTimeoutFor(t *testing.T) {
	w := &watcher{seedTimeout: 50 * time.Millisecond}
	for slow, ms := range []int{50, 100, 200, 400, 400, 400} {
		if got, want := w.seedTimeoutFor(slow), time.Duration(ms)*time.Millisecond; got != want {
			t.Errorf("seedTimeoutFor(%d) = %v, want %v", slow, got, want)
		}
	}
	w.seedTimeout = math.MaxInt64 / 3
	if got := w.seedTimeoutFor(3); got < w.seedTimeout {
		t.Errorf("seedTimeoutFor(3) of %v = %v: wrapped", w.seedTimeout, got)
	}
}

// Seeds that all answer with an error (nothing listening) end WaitReady at
// once: waiting out the ctx would only delay the same answer.
func TestRefusingSeedsFailFast(t *testing.T) {
	f := &fakeWatch{err: connect.NewError(connect.CodeUnavailable, errors.New("connection refused"))}
	m := New(Config{Seeds: []string{"s1:1", "s2:1"}, TotalShards: 1, Watch: f.watch,
		Reconnect: backoff.Policy{Initial: time.Hour}})
	defer m.Close()
	m.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.WaitReady(ctx); connect.CodeOf(err) != connect.CodeUnavailable || ctx.Err() != nil {
		t.Fatalf("WaitReady = %v, want the seeds' refusal before ctx's end", err)
	}
	if err := m.FetchOnce(ctx); connect.CodeOf(err) != connect.CodeUnavailable || ctx.Err() != nil {
		t.Fatalf("FetchOnce = %v, want the seeds' refusal before ctx's end", err)
	}
}

// A suspect node is picked last until it answers again.
func TestSuspectTriedLast(t *testing.T) {
	m := New(Config{Seeds: []string{"s1:1", "s2:1", "s3:1"}, TotalShards: 1})
	defer m.Close()
	m.Suspect(0, "s2:1")
	for range 9 {
		if got := m.Route(0, true); got == "s2:1" {
			t.Fatal("suspect node picked while others are fine")
		}
	}
	m.Unreachable(0, "s1:1")
	m.Unreachable(0, "s3:1")
	if got := m.Route(0, true); got != "s2:1" {
		t.Fatalf("with the others down, got %q, want the suspect one", got)
	}
	m.Answered("s2:1")
	if m.isSuspect("s2:1") {
		t.Fatal("still suspect after answering")
	}
	// A suspect leader is bypassed for the shard's replicas.
	m.Apply(view(1, "a"))
	m.Suspect(-1, "a:1")
	for range 6 {
		if got := m.Route(0, true); got == "a:1" {
			t.Fatal("suspect leader chosen")
		}
	}
	// The watch rotation (seeds, then the view's nodes) passes it over.
	if got := m.w.watchAddr(3); got != "b:1" {
		t.Fatalf("watch rotation chose %q, want b:1 after the suspect a:1", got)
	}
}

func TestWatchUnimplementedBacksOffLong(t *testing.T) {
	f := &fakeWatch{err: connect.NewError(connect.CodeUnimplemented, errors.New("no meta"))}
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1, Watch: f.watch,
		Reconnect: backoff.Policy{Initial: time.Millisecond, Jitter: -1}, Unimplemented: backoff.Policy{Initial: time.Hour}})
	m.Start()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.WaitReady(ctx); err != nil {
		t.Fatal("WaitReady:", err)
	}
	time.Sleep(20 * time.Millisecond)
	if n := f.opens.Load(); n != 1 {
		t.Fatalf("watch opened %d times despite UNIMPLEMENTED", n)
	}
	start := time.Now()
	m.Close() // must not wait for the hour
	if time.Since(start) > time.Second {
		t.Fatal("Close waited for the backoff")
	}
}

func TestEventsSlowSubscriberAndUnsubscribe(t *testing.T) {
	f := &fakeWatch{views: make(chan *v1.ClusterView)}
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1, Watch: f.watch})
	defer m.Close()
	block := make(chan struct{})
	var slowGot atomic.Int32
	m.Subscribe(func(Event) { slowGot.Add(1); <-block })
	got := make(chan Event, 10)
	unsub := m.Subscribe(func(e Event) { got <- e })
	m.Start()
	for e := uint64(1); e <= 3; e++ {
		select {
		case f.views <- view(e, "a"):
		case <-time.After(5 * time.Second):
			t.Fatal("watcher stalled by a slow subscriber")
		}
		if ev := <-got; ev.CurrentEpoch != e {
			t.Fatalf("event %+v", ev)
		}
	}
	unsub()
	f.views <- view(4, "b")
	select {
	case ev := <-got:
		t.Fatalf("delivered after unsubscribe: %+v", ev)
	case <-time.After(50 * time.Millisecond):
	}
	close(block)
}

func TestRefreshRestartsStream(t *testing.T) {
	f := &fakeWatch{views: make(chan *v1.ClusterView)}
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1, Watch: f.watch})
	defer m.Close()
	m.Start()
	f.views <- view(1, "a")
	time.Sleep(minRefreshInterval + 20*time.Millisecond)
	for range 10 { // coalesced into one
		m.RequestRefresh()
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.opens.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if n := f.opens.Load(); n != 2 {
		t.Fatalf("stream opened %d times, want 2", n)
	}
}

func TestShardCountLearntOrChecked(t *testing.T) {
	m := New(Config{Seeds: []string{"s1:1"}})
	defer m.Close()
	if m.TotalShards() != 0 || m.Route(0, true) != "s1:1" || m.CachedLeaders() != 0 {
		t.Fatal("before a view")
	}
	m.Apply(view(1, "a", "b", "c"))
	if n, err := m.Shards(context.Background()); n != 3 || err != nil || m.Route(2, true) != "c:1" {
		t.Fatalf("learnt %d, %v", n, err)
	}
	m2 := New(Config{Seeds: []string{"s1:1"}, TotalShards: 2})
	defer m2.Close()
	m2.Apply(view(1, "a", "b", "c"))
	_, err := m2.Shards(context.Background())
	if connect.CodeOf(err) != connect.CodeInvalidArgument || m2.ShardsErr() == nil ||
		!strings.Contains(err.Error(), "Config.TotalShards is 2 but the cluster has 3 shards") {
		t.Fatalf("mismatch: %v", err)
	}
}

func TestDownReplicasSkipped(t *testing.T) {
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1})
	defer m.Close()
	v := view(1, "a")
	v.Nodes[1].Role = "down"
	m.Apply(v)
	for range 10 {
		if got := m.Route(0, false); got == "b:1" {
			t.Fatal("stale read routed to a down replica")
		}
	}
	v = view(2, "a")
	for _, n := range v.Nodes {
		n.Role = "down"
	}
	m.Apply(v)
	seen := map[string]bool{}
	for range 100 { // chosen at random among equals: 3·(2/3)^100 odds to miss one
		seen[m.Route(0, false)] = true
	}
	if len(seen) != 3 {
		t.Fatalf("all down: reads went to %v, want every replica", seen)
	}
}
