package reliability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/server"
)

// batchDropper loses the answer of a share of the Kv.Batch exchanges the
// server served: every write in them was applied, and the client sees
// UNAVAILABLE, as when the connection dies on the way back.
type batchDropper struct {
	perMille atomic.Uint64
	batches  atomic.Uint64
	dropped  atomic.Uint64
}

func (d *batchDropper) interceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			res, err := next(ctx, req)
			if err == nil && req.Spec().Procedure == norikvv1connect.KvBatchProcedure {
				d.batches.Add(1)
				if rand.Uint64N(1000) < d.perMille.Load() {
					d.dropped.Add(1)
					return nil, connect.NewError(connect.CodeUnavailable, errDropped)
				}
			}
			return res, err
		}
	})
}

// Naturally batched and explicit batched writes under dropped answers (of
// batches and of single writes) and leader moves: every call is applied
// exactly once, compare-and-swaps never fail falsely, and the final values
// are the last acknowledged ones.
func TestBatchedWritesExactlyOnceUnderFaults(t *testing.T) {
	const workers, perWorker, multiRounds, multiKeys = 16, 60, 10, 40
	env := newFaultEnv(t, server.Config{Nodes: 3, Shards: 8})
	c, drop := env.droppingClient(t, 50, 150)
	// A leader moves for every 4 calls that end (about 250 moves: a
	// MultiPut ends 40 at once, and a move still pending skips ticks).
	moves, step, stopMoves := env.moveLeadersPaced(8, 4)

	type outcome struct {
		last  norikv.Version
		value string
		err   error
	}
	results := make([]outcome, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			key, out := fmt.Sprintf("nat:%d", w), &results[w]
			for i := range perWorker {
				val := fmt.Sprintf("w%d-%d", w, i)
				var opts []norikv.PutOption
				if i > 0 && i%2 == 1 {
					opts = append(opts, norikv.IfMatch(out.last))
				}
				v, err := c.Put(context.Background(), key, []byte(val), opts...)
				step()
				if err != nil {
					out.err = fmt.Errorf("worker %d write %d (cas=%v): %w", w, i, len(opts) > 0, err)
					return
				}
				out.last, out.value = v, val
			}
		})
	}
	multiErr := make(chan error, 1)
	wg.Go(func() { // explicit batches alongside
		for r := range multiRounds {
			kvs := make([]norikv.KeyValue, multiKeys)
			for i := range kvs {
				kvs[i] = norikv.KeyValue{Key: fmt.Sprintf("multi:%d", i), Value: []byte(fmt.Sprint(r))}
			}
			_, err := c.MultiPut(context.Background(), kvs)
			for range kvs {
				step()
			}
			if err != nil {
				multiErr <- fmt.Errorf("MultiPut round %d: %w", r, err)
				return
			}
		}
	})
	wg.Wait()
	stopMoves()
	close(multiErr)
	if err := <-multiErr; err != nil {
		t.Error(err)
	}
	for _, r := range results {
		if r.err != nil {
			if errors.Is(r.err, norikv.ErrVersionMismatch) {
				t.Errorf("a false version mismatch (a retried CAS applied twice): %v", r.err)
			} else {
				t.Error(r.err)
			}
		}
	}
	st := env.cluster.Stats()
	calls := uint64(workers*perWorker + multiRounds*multiKeys)
	t.Logf("%d write calls; %d batches, %d batch answers and %d single answers dropped after apply, %d leader moves; server applied %d puts, %d replays",
		calls, drop.batches.Load(), drop.dropped.Load(), env.dropped.Load(), moves.Load(), st.Puts, st.IdempotentReplays)
	if drop.dropped.Load() == 0 || moves.Load() == 0 {
		t.Fatal("no batch answer was dropped or no leader moved: the faults were not exercised")
	}
	switch {
	case st.Puts == calls:
	case t.Failed():
		// A call failed above and its caller stopped: fewer calls were
		// made, so the count says nothing more (the failure is the news).
		t.Logf("server applied %d puts for %d calls, some never made", st.Puts, calls)
	default:
		t.Errorf("server applied %d puts for %d calls: a retried batched write was applied twice (or lost)", st.Puts, calls)
	}
	env.dropRate.Store(0)
	drop.perMille.Store(0)
	for w, r := range results {
		got, err := c.Get(context.Background(), fmt.Sprintf("nat:%d", w))
		if err != nil || got.Version != r.last || string(got.Value) != r.value {
			t.Errorf("final nat:%d = %v, %v; want %q at %v", w, got, err, r.value, r.last)
		}
	}
	got, err := c.MultiGet(context.Background(), []string{"multi:0", fmt.Sprintf("multi:%d", multiKeys-1)})
	if err != nil || string(got[0].Value) != fmt.Sprint(multiRounds-1) || string(got[1].Value) != fmt.Sprint(multiRounds-1) {
		t.Errorf("final multi keys = %v, %v", got, err)
	}
}

// TestLinearizabilityBatchedUnderFaults is TestLinearizabilityUnderFaults
// with four workers sharing each client, so their calls travel together
// as natural batches (whose answers the fault interceptor drops too),
// under the same fault schedule: the history must be linearizable and no
// write applied twice.
func TestLinearizabilityBatchedUnderFaults(t *testing.T) {
	lc := defaultLinConfig()
	lc.clients, lc.perClient, lc.duration = 4, 4, lc.duration/2
	rep := runLinearizability(t, lc)
	t.Logf("batched linearizability: %d operations checked (%d with unknown outcome); faults %d plus %d answers dropped after apply; %d attempts; %d writes acked, %d applied; violations: %d",
		rep.Operations, rep.Unknown, rep.Faults.total(), rep.Dropped, rep.Attempts, rep.Acked, rep.Applies, rep.Violations)
}
