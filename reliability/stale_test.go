package reliability

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net/http"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anishathalye/porcupine"

	norikv "github.com/norikv/norikv-go/client"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/server"
)

// staleRead is one stale_ok Get sent straight to one node, so the replica
// that answered is known.
type staleRead struct {
	node      string
	key       string
	call, ret int64 // on the Recorder's clock
	found     bool
	value     string
	index     uint64
	term      uint64
}

// staleReads records stale_ok reads for the weaker model porcupine does not
// check (a stale read is not linearizable by design). Against a cluster
// with replication lag L, every stale_ok read r of key k served by
// replica n must be:
//
//   - from the past: the value r returns was written by a call invoked
//     before r returned, and with that call's version if it was
//     acknowledged;
//   - monotonic per replica: a read of k on n invoked after an earlier read
//     of k on n returned sees the same or a later version (or absent, if a
//     delete of k may have been applied after the write the earlier read
//     saw: deletes return no version, so that is all the model can say);
//   - bounded: a read invoked more than L + failoverWindow after a put of k
//     was acknowledged sees that put or a later write of k (absent only if
//     a delete of k was invoked before r returned).
//
// The failover window is how much longer than L a replica may stay behind
// around a leadership change. The embedded server catches a new leader up
// before it takes over and starts a replica that begins to lag from the
// state at that moment, so it is 0 there; a replicated server would put
// its election timeout here.
type staleReads struct {
	rec   *Recorder
	nodes []string
	kv    map[string]norikvv1connect.KvClient
	mu    sync.Mutex
	reads []staleRead

	// sdk sends stale_ok Gets through the SDK with hedging on at a 1ms
	// delay and no budget to speak of, so most are hedged; byAddr names
	// the node of each address. See readSDK.
	sdk    *norikv.Client
	byAddr map[string]string
}

// answersKey carries a readSDK call's *answers to the recording
// interceptor.
type answersKey struct{}

// answers are the replicas that answered one SDK read's requests (the
// first, the hedge), with what they answered.
type answers struct {
	mu  sync.Mutex
	got []staleRead
}

// hedgedClient makes s.sdk on env: the interceptor records which replica
// answered each request of a read, so a hedged read is checked against
// the replica that gave its answer.
func (s *staleReads) hedgedClient(t *testing.T, env *faultEnv) {
	s.byAddr = map[string]string{}
	for _, id := range s.nodes {
		s.byAddr[env.cluster.Addr(id)] = id
	}
	record := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			a, _ := ctx.Value(answersKey{}).(*answers)
			if g, ok := res.(*connect.Response[v1.GetResponse]); ok && err == nil && a != nil {
				r := staleRead{node: s.byAddr[interceptors.TargetFrom(ctx)]}
				if v := g.Msg.GetVersion(); v != nil {
					r.found, r.value, r.index, r.term = true, string(g.Msg.GetValue()), v.GetIndex(), v.GetTerm()
				}
				a.mu.Lock()
				a.got = append(a.got, r)
				a.mu.Unlock()
			}
			return res, err
		}
	})
	s.sdk = env.client(t, norikv.Config{
		Timeout:      2 * time.Second,
		Interceptors: []connect.Interceptor{record},
		StaleReads:   norikv.StaleReadConfig{HedgeDelay: time.Millisecond, HedgeBudget: 1},
	})
}

// readSDK sends one stale_ok Get of key through the SDK, hedged, and
// records its answer on the replica that gave it, with the SDK call's
// own invocation and return times (which contain the request's, so the
// model's bounds are, if anything, stricter).
func (s *staleReads) readSDK(ctx context.Context, key string) {
	a := &answers{}
	call := time.Since(s.rec.start).Nanoseconds()
	res, err := s.sdk.Get(context.WithValue(ctx, answersKey{}, a), key, norikv.WithConsistency(norikv.ConsistencyStaleOK))
	ret := time.Since(s.rec.start).Nanoseconds()
	if err != nil && !errors.Is(err, norikv.ErrKeyNotFound) {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, r := range a.got {
		if r.found == (err == nil) && (err != nil || r.value == string(res.Value) && r.index == res.Version.Index && r.term == res.Version.Term) {
			r.key, r.call, r.ret = key, call, ret
			s.mu.Lock()
			s.reads = append(s.reads, r)
			s.mu.Unlock()
			return
		}
	}
}

const failoverWindow = 0

func newStaleReads(t *testing.T, c *server.Cluster) *staleReads {
	tr := &http.Transport{}
	t.Cleanup(tr.CloseIdleConnections)
	s := &staleReads{nodes: c.NodeIDs(), kv: map[string]norikvv1connect.KvClient{}}
	for _, id := range s.nodes {
		s.kv[id] = norikvv1connect.NewKvClient(&http.Client{Transport: tr, Timeout: 2 * time.Second}, "http://"+c.Addr(id))
	}
	return s
}

// read sends one stale_ok Get of key to a random node; failures (a
// stopped node, NOT_LEADER from a non-replica) record nothing.
func (s *staleReads) read(ctx context.Context, rng *rand.Rand, key string) {
	node := s.nodes[rng.IntN(len(s.nodes))]
	call := time.Since(s.rec.start).Nanoseconds()
	res, err := s.kv[node].Get(ctx, &v1.GetRequest{Key: []byte(key), Consistency: "stale_ok"})
	ret := time.Since(s.rec.start).Nanoseconds()
	if err != nil {
		return
	}
	r := staleRead{node: node, key: key, call: call, ret: ret}
	if res.Version != nil {
		r.found, r.value, r.index, r.term = true, string(res.Value), res.Version.Index, res.Version.Term
	}
	s.mu.Lock()
	s.reads = append(s.reads, r)
	s.mu.Unlock()
}

// check applies the model to the recorded stale reads, given the history
// of every other call (ops) and the lag.
func (s *staleReads) check(t *testing.T, ops []porcupine.Operation, lag time.Duration) {
	t.Helper()
	type write struct {
		call, ret int64 // ret MaxInt64 if unknown
		acked     bool
		index     uint64
		term      uint64
	}
	byValue := map[string]write{}
	acked := map[string][]write{}      // acknowledged puts by key
	deletes := map[string][][2]int64{} // call, return

	for _, op := range ops {
		in, out := op.Input.(Input), op.Output.(Output)
		switch in.Kind {
		case OpDelete:
			deletes[in.Key] = append(deletes[in.Key], [2]int64{op.Call, op.Return})
		case OpPut, OpCAS:
			if !out.Unknown && !out.OK {
				continue // a CAS that lost wrote nothing
			}
			w := write{call: op.Call, ret: op.Return, acked: !out.Unknown, index: out.Version.Index, term: out.Version.Term}
			byValue[in.Value] = w
			if w.acked {
				acked[in.Key] = append(acked[in.Key], w)
			}
		}
	}
	bound := int64(lag + failoverWindow)
	s.mu.Lock()
	reads := append([]staleRead(nil), s.reads...)
	s.mu.Unlock()
	var future, backwards, tooOld, behind int
	for i, r := range reads {
		if r.found {
			w, ok := byValue[r.value]
			if !ok || w.call > r.ret || (w.acked && (w.index != r.index || w.term != r.term)) {
				future++
				t.Errorf("stale read of %s on %s returned %q at %d:%d, which no write invoked before it produced", r.key, r.node, r.value, r.term, r.index)
			}
		}
		for j, p := range reads {
			if j != i && p.node == r.node && p.key == r.key && p.found && p.ret < r.call && (!r.found || r.index < p.index) && !deletedBetween(deletes[r.key], byValue[p.value].call, r.ret) {
				backwards++
				t.Errorf("replica %s went back in time on %s: read index %d, then (found=%v) index %d", r.node, r.key, p.index, r.found, r.index)
			}
		}
		older := false
		for _, w := range acked[r.key] {
			if w.ret < r.call && r.found && r.index < w.index {
				older = true
			}
			if w.ret == math.MaxInt64 || w.ret+bound >= r.call {
				continue
			}
			if (!r.found && !deletedBetween(deletes[r.key], w.call, r.ret)) || (r.found && r.index < w.index) {
				tooOld++
				t.Errorf("stale read of %s on %s (found=%v index %d) invoked %v after put %d:%d was acknowledged: older than the %v bound",
					r.key, r.node, r.found, r.index, time.Duration(r.call-w.ret), w.term, w.index, time.Duration(bound))
				break
			}
		}
		if older {
			behind++
		}
	}
	t.Logf("stale_ok reads checked: %d, %d of them behind an acknowledged write (from the future: %d, backwards on a replica: %d, older than lag+failover window %v: %d)",
		len(reads), behind, future, backwards, time.Duration(bound), tooOld)
	if len(reads) == 0 {
		t.Error("no stale_ok read was recorded")
	}
}

// deletedBetween reports whether one of the deletes (call, return) may
// have taken effect between after and before.
func deletedBetween(deletes [][2]int64, after, before int64) bool {
	for _, d := range deletes {
		if d[0] < before && d[1] > after {
			return true
		}
	}
	return false
}

// TestLinearizabilityWithReplicationLag is the linearizability run against
// a cluster whose lagging followers apply writes 30 ms late: lease and
// linearizable reads through the SDK must still check as linearizable,
// and stale_ok reads sent to every replica are checked by staleReads.
func TestLinearizabilityWithReplicationLag(t *testing.T) {
	lc := defaultLinConfig()
	lc.lag = 30 * time.Millisecond
	rep := runLinearizability(t, lc)
	t.Logf("linearizability with %v lag: %d operations checked (%d with unknown outcome); violations: %d", lc.lag, rep.Operations, rep.Unknown, rep.Violations)
}
