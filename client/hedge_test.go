package norikv

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/wire"
	"github.com/norikv/norikv-go/norikvtest"
)

// staleGet reports whether a fault hook's call is a stale_ok Get.
func staleGet(procedure string, req any) bool {
	g, ok := req.(*v1.GetRequest)
	if !ok || procedure != norikvv1connect.KvGetProcedure {
		return false
	}
	c, _ := wire.ParseConsistency(g.GetConsistency())
	return !c.NeedsLeader()
}

// sleepCtx waits d or until ctx ends, and says which.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// staleCluster is a 3-node cluster, every node a replica of every shard,
// with key "k" written, and a counter of the stale Gets each node got.
func staleCluster(t *testing.T) (*norikvtest.Cluster, *sync.Map) {
	t.Helper()
	fc := startServer(t, 3, 4)
	cl := newClient(t, fc, nil)
	if _, err := cl.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	return fc, &sync.Map{}
}

func count(m *sync.Map, node string) int64 {
	v, _ := m.LoadOrStore(node, new(atomic.Int64))
	return v.(*atomic.Int64).Load()
}

func inc(m *sync.Map, node string) {
	v, _ := m.LoadOrStore(node, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

// One replica answers every stale read 300ms late: the client learns it
// and sends it almost nothing, where round-robin sent it a third.
func TestSlowReplicaAvoided(t *testing.T) {
	fc, reads := staleCluster(t)
	fc.SetFaults(func(ctx context.Context, node, procedure string, req any) error {
		if !staleGet(procedure, req) {
			return nil
		}
		inc(reads, node)
		if node == "n2" {
			return sleepCtx(ctx, 300*time.Millisecond)
		}
		return nil
	})
	cl := newClient(t, fc, func(c *Config) { c.StaleReads.DisableHedging = true })
	ctx := context.Background()
	const n = 60
	for range n {
		if _, err := cl.Get(ctx, "k", WithConsistency(ConsistencyStaleOK)); err != nil {
			t.Fatal(err)
		}
	}
	slow, fast := count(reads, "n2"), count(reads, "n1")+count(reads, "n3")
	t.Logf("stale reads: n1 %d, n2 (slow) %d, n3 %d; %v", count(reads, "n1"), slow, count(reads, "n3"), cl.Stats().Replicas)
	// Round-robin gives n2 20. The latency-aware choice sends it the
	// first read or two (nothing is known yet), then a probe every few
	// seconds at most; 6 leaves room for a machine slow enough to stretch
	// this loop over several probes.
	if slow > 6 || slow+fast != n {
		t.Fatalf("slow replica served %d of %d stale reads (others %d), want at most 6", slow, n, fast)
	}
	st := cl.Stats()
	if st.Hedges.Sent != 0 {
		t.Fatalf("hedges sent with hedging off: %+v", st.Hedges)
	}
	var slowEst, fastEst time.Duration
	for _, r := range st.Replicas {
		if r.Addr == fc.Addr("n2") {
			slowEst = r.Latency
		} else {
			fastEst = max(fastEst, r.Latency)
		}
	}
	if slow > 0 && slowEst <= fastEst {
		t.Fatalf("estimates: slow %v, fast %v; want the slow replica's higher", slowEst, fastEst)
	}
}

// The replica the first request goes to holds it until it is cancelled;
// the hedge goes to another replica, answers, and wins; the first request
// is cancelled (the server sees its ctx end), and is not a failure.
func TestHedgeWonLoserCancelled(t *testing.T) {
	fc, _ := staleCluster(t)
	obs := &hedgeObserver{}
	cl := newClient(t, fc, func(c *Config) {
		c.StaleReads.HedgeDelay = 100 * time.Millisecond
		c.Observer = obs
	})
	// Connections to every node first, so the first request reaches its
	// node long before the hedge reaches another.
	for range 30 {
		if _, err := cl.Get(context.Background(), "k", WithConsistency(ConsistencyStaleOK)); err != nil {
			t.Fatal(err)
		}
	}
	base := cl.Stats().Hedges
	obs.reset()
	var (
		held      atomic.Bool
		heldNode  = make(chan string, 1)
		cancelled = make(chan struct{})
		hedgeNode = make(chan string, 1)
	)
	fc.SetFaults(func(ctx context.Context, node, procedure string, req any) error {
		if !staleGet(procedure, req) {
			return nil
		}
		if held.CompareAndSwap(false, true) {
			heldNode <- node
			<-ctx.Done() // the first request: held until the client gives up on it
			close(cancelled)
			return ctx.Err()
		}
		select {
		case hedgeNode <- node:
		default:
		}
		return nil
	})
	res, err := cl.Get(context.Background(), "k", WithConsistency(ConsistencyStaleOK))
	if err != nil || string(res.Value) != "v" {
		t.Fatalf("hedged Get: %v, %v", res, err)
	}
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request was never cancelled")
	}
	first, second := <-heldNode, <-hedgeNode
	if first == second {
		t.Fatalf("the hedge went to the first request's replica %s", first)
	}
	st := cl.Stats()
	if st.Hedges.Sent-base.Sent != 1 || st.Hedges.Won-base.Won != 1 || st.Requests.Failures != 0 {
		t.Fatalf("hedges %+v, failures %d: want 1 sent, 1 won, no failure", st.Hedges, st.Requests.Failures)
	}
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.calls) != 1 || !obs.calls[0].Hedged || !obs.calls[0].HedgeWon || obs.calls[0].Attempts != 2 || obs.calls[0].Err != nil {
		t.Fatalf("observed calls %+v: want one, hedged and won by the hedge, 2 attempts", obs.calls)
	}
	if len(obs.attempts) != 2 || obs.attempts[0].Reason != interceptors.AttemptFirst || obs.attempts[1].Reason != interceptors.AttemptHedge ||
		obs.attempts[0].Node != fc.Addr(first) || obs.attempts[1].Node != fc.Addr(second) || !errors.Is(obs.attempts[0].Err, context.Canceled) {
		t.Fatalf("observed attempts %+v", obs.attempts)
	}
}

// hedgeObserver records calls and attempts, attempts in the order they
// ended sorted by N.
type hedgeObserver struct {
	BaseObserver
	mu       sync.Mutex
	calls    []interceptors.Call
	attempts []interceptors.Attempt
}

func (o *hedgeObserver) reset() {
	o.mu.Lock()
	o.calls, o.attempts = nil, nil
	o.mu.Unlock()
}

func (o *hedgeObserver) CallEnd(_ context.Context, c *interceptors.Call) {
	o.mu.Lock()
	o.calls = append(o.calls, *c)
	o.mu.Unlock()
}

func (o *hedgeObserver) AttemptEnd(_ context.Context, _ *interceptors.Call, a *interceptors.Attempt) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.attempts = append(o.attempts, *a)
	for i := len(o.attempts) - 1; i > 0 && o.attempts[i].N < o.attempts[i-1].N; i-- {
		o.attempts[i], o.attempts[i-1] = o.attempts[i-1], o.attempts[i]
	}
}

// Every replica is slow: every read waits past the hedge delay, but the
// budget lets only its floor plus 5% of the reads send a hedge.
func TestHedgeBudgetCapsHedges(t *testing.T) {
	fc, reads := staleCluster(t)
	fc.SetFaults(func(ctx context.Context, node, procedure string, req any) error {
		if !staleGet(procedure, req) {
			return nil
		}
		inc(reads, "all")
		return sleepCtx(ctx, 100*time.Millisecond)
	})
	cl := newClient(t, fc, func(c *Config) { c.StaleReads.HedgeDelay = 5 * time.Millisecond })
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				if _, err := cl.Get(context.Background(), "k", WithConsistency(ConsistencyStaleOK)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	st := cl.Stats().Hedges
	maxHedges := uint64(hedgeBudgetFloor + defaultHedgeBudget*workers*each)
	t.Logf("%d reads: %+v; the nodes got %d stale Gets", workers*each, st, count(reads, "all"))
	// Sent+Refused is every read whose timer fired before its answer: all
	// of them, unless the machine delays a 5ms timer past a 100ms reply.
	if st.Sent == 0 || st.Sent > maxHedges || st.Refused < workers*each/2 || st.Sent+st.Refused > workers*each {
		t.Fatalf("hedges %+v over %d reads: want 1..%d sent and the rest refused", st, workers*each, maxHedges)
	}
	if f := cl.Stats().Requests.Failures; f != 0 {
		t.Fatalf("%d requests counted as failures: the losers of hedged reads are not failures", f)
	}
	if got := count(reads, "all"); got > int64(workers*each)+int64(maxHedges) {
		t.Fatalf("the nodes got %d stale Gets for %d reads: more than %d hedges", got, workers*each, maxHedges)
	}
}

// WithHedging overrides the client's setting for one call; only stale
// reads are hedged.
func TestWithHedgingPerCall(t *testing.T) {
	fc, _ := staleCluster(t)
	fc.SetFaults(func(ctx context.Context, node, procedure string, req any) error {
		if _, ok := req.(*v1.GetRequest); ok {
			return sleepCtx(ctx, 200*time.Millisecond) // far past the 5ms hedge delay, even on a loaded machine
		}
		return nil
	})
	cl := newClient(t, fc, func(c *Config) {
		c.StaleReads.HedgeDelay = 5 * time.Millisecond
		c.StaleReads.DisableHedging = true
	})
	ctx := context.Background()
	get := func(opts ...GetOption) {
		t.Helper()
		if _, err := cl.Get(ctx, "k", opts...); err != nil {
			t.Fatal(err)
		}
	}
	get(WithConsistency(ConsistencyStaleOK))
	get(WithHedging(true)) // a lease read: the leader only, never hedged
	if s := cl.Stats().Hedges; s.Sent+s.Refused != 0 {
		t.Fatalf("hedged with hedging off, or a leader read: %+v", s)
	}
	get(WithConsistency(ConsistencyStaleOK), WithHedging(true))
	if s := cl.Stats().Hedges; s.Sent != 1 {
		t.Fatalf("WithHedging(true): %+v, want 1 hedge", s)
	}
}
