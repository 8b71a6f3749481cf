package reliability

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/server"
)

// faultEnv is an embedded cluster with a fault proxy in front of every
// node and a client-side fault interceptor.
//
// The cluster view advertises the nodes' real addresses (the server has no
// advertise-address option), so clients would bypass the proxies once they
// learn the view. The fault interceptor, innermost in the client's chain,
// therefore rewrites each attempt's target — whatever routing, the view or
// a NOT_LEADER hint chose — to that node's proxy.
type faultEnv struct {
	cluster *server.Cluster
	proxies map[string]*Proxy // by node id
	byAddr  map[string]*Proxy // by real node address

	dropRate atomic.Uint64 // per-mille of successful writes whose response is dropped
	attempts atomic.Uint64 // attempts that went through the interceptor
	dropped  atomic.Uint64 // responses dropped after the server applied the write
}

func newFaultEnv(t testing.TB, cfg server.Config) *faultEnv {
	t.Helper()
	c, err := server.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	e := &faultEnv{cluster: c, proxies: map[string]*Proxy{}, byAddr: map[string]*Proxy{}}
	for _, id := range c.NodeIDs() {
		p, err := NewProxy(c.Addr(id))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Close() })
		e.proxies[id] = p
		e.byAddr[c.Addr(id)] = p
	}
	return e
}

// seeds are the proxies' addresses, for Config.Nodes.
func (e *faultEnv) seeds() []string {
	var s []string
	for _, id := range e.cluster.NodeIDs() {
		s = append(s, e.proxies[id].Addr())
	}
	return s
}

// client returns a client that goes through the proxies and the fault
// interceptor, closed when the test ends.
func (e *faultEnv) client(t testing.TB, cfg norikv.Config) *norikv.Client {
	t.Helper()
	cfg.Nodes = e.seeds()
	cfg.TotalShards = e.cluster.Shards()
	cfg.Interceptors = append(cfg.Interceptors, e.interceptor())
	c, err := norikv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

var errDropped = errors.New("fault injection: response dropped after the server applied the request")

func (e *faultEnv) interceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			e.attempts.Add(1)
			if p := e.byAddr[interceptors.TargetFrom(ctx)]; p != nil {
				ctx = interceptors.WithTarget(ctx, p.Addr())
			}
			res, err := next(ctx, req)
			if err == nil && isWrite(req.Spec().Procedure) && rand.Uint64N(1000) < e.dropRate.Load() {
				// The write was applied and its answer is lost on the
				// way back: the ambiguous failure. Unavailable is what
				// a client sees when the connection dies at that point.
				e.dropped.Add(1)
				return nil, connect.NewError(connect.CodeUnavailable, errDropped)
			}
			return res, err
		}
	})
}

func isWrite(procedure string) bool {
	switch procedure {
	case "/norikv.v1.Kv/Put", "/norikv.v1.Kv/Delete", "/norikv.v1.Kv/Batch":
		return true
	}
	return false
}

// faultCounts are the faults a schedule injected.
type faultCounts struct {
	Transfers, Stops, Restarts, Resets, LatencySpells uint64
}

func (f faultCounts) total() uint64 {
	return f.Transfers + f.Stops + f.Restarts + f.Resets + f.LatencySpells
}

// restoreAll undoes every fault: all nodes up, no latency.
func (e *faultEnv) restoreAll(t testing.TB) {
	for id, p := range e.proxies {
		p.SetLatency(0)
		if err := e.cluster.RestartNode(id); err != nil {
			t.Errorf("restart %s: %v", id, err)
		}
	}
}

// moveLeadersPaced moves the leadership of shards 0..shards-1 round the
// nodes, one move for every n calls to step (the callers' completed
// calls), until stop is called (which waits for it); moves counts the
// transfers made. Paced by the calls, not the clock, the churn a call
// meets is the same on a loaded machine as on an idle one: moves every
// few milliseconds outran calls that each took longer than that (every
// redirect found the leader gone, and the call failed NOT_LEADER).
func (e *faultEnv) moveLeadersPaced(shards, n int) (moves *atomic.Uint64, step, stop func()) {
	var calls atomic.Uint64
	tick := make(chan struct{}, 1)
	step = func() {
		if calls.Add(1)%uint64(n) == 0 {
			select {
			case tick <- struct{}{}:
			default: // a move is pending: the next one waits for more calls
			}
		}
	}
	moves, stop = e.moveLeadersOn(shards, func() <-chan struct{} { return tick })
	return moves, step, stop
}

// moveLeadersOn moves one leader each time the channel next returns is
// ready, until stop.
func (e *faultEnv) moveLeadersOn(shards int, next func() <-chan struct{}) (moves *atomic.Uint64, stop func()) {
	moves = new(atomic.Uint64)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ids := e.cluster.NodeIDs()
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-next():
			}
			if e.cluster.TransferLeader(uint32(i%shards), ids[i%len(ids)]) == nil {
				moves.Add(1)
			}
		}
	})
	return moves, func() { close(done); wg.Wait() }
}

// droppingClient is a connected client of e whose writes lose their
// answers after they are applied: single writes singlePerMille of the
// time (the server drops them), batch exchanges batchPerMille (the
// client's batchDropper, returned for its counts). It retries quickly and without a budget, so
// every call ends applied or failed, never refused.
func (e *faultEnv) droppingClient(t *testing.T, singlePerMille, batchPerMille uint64) (*norikv.Client, *batchDropper) {
	t.Helper()
	e.dropRate.Store(singlePerMille)
	drop := &batchDropper{}
	drop.perMille.Store(batchPerMille)
	c := e.client(t, norikv.Config{
		Timeout:      10 * time.Second,
		Interceptors: []connect.Interceptor{drop.interceptor()},
		Retry: norikv.RetryConfig{
			MaxAttempts: 10, InitialDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond,
			Jitter: -1, BudgetRatio: -1,
		},
	})
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, drop
}
