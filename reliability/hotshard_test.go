package reliability

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/server"
)

// TestHotShardExactlyOnce sends thousands of keyed writes to one shard
// through the SDK while a share of the responses is dropped after the
// server applied the write, so the SDK retries them with the same
// idempotency key. Every retry must replay the first result: a plain Put is
// applied once, and a compare-and-swap Put whose first attempt succeeded
// must not come back as a false version mismatch.
//
// The cluster's idempotency budget (4096 entries) is larger than the run's
// writes but far smaller than 1024 shards times the writes each could see:
// a cache split evenly over shards (4 entries each) forgets keys on the
// hot shard within milliseconds.
func TestHotShardExactlyOnce(t *testing.T) {
	const workers, perWorker = 8, 375
	env := newFaultEnv(t, server.Config{Nodes: 3, Shards: 1024, IdempotencyMaxEntries: 4096})
	env.dropRate.Store(100) // per-mille
	hot := env.cluster.ShardOf([]byte("hot:0"))
	var keys []string
	for i := 0; len(keys) < workers; i++ {
		if k := fmt.Sprintf("hot:%d", i); env.cluster.ShardOf([]byte(k)) == hot {
			keys = append(keys, k)
		}
	}
	c := env.client(t, norikv.Config{
		Timeout: 5 * time.Second,
		Retry: norikv.RetryConfig{
			MaxAttempts:  10,
			InitialDelay: time.Millisecond,
			MaxDelay:     5 * time.Millisecond,
			Jitter:       -1,
			BudgetRatio:  -1, // every dropped response is retried
		},
	})
	// The view announces client sessions: writes get automatic keys.
	if err := c.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}

	type outcome struct {
		last       norikv.Version
		value      string
		mismatches int // false version mismatches: applied, then refused on retry
		err        error
	}
	results := make([]outcome, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			ctx := context.Background()
			key, out := keys[w], &results[w]
			// Each worker owns its key, so its compare-and-swap Puts
			// must all succeed.
			for i := range perWorker {
				val := fmt.Sprintf("w%d-%d", w, i)
				var opts []norikv.PutOption
				if i%2 == 1 {
					opts = append(opts, norikv.IfMatch(out.last))
				}
				v, err := c.Put(ctx, key, []byte(val), opts...)
				if errors.Is(err, norikv.ErrVersionMismatch) {
					// The retry was evaluated afresh against the
					// first attempt's own write. Count it and go on
					// from the current version.
					if out.mismatches++; out.mismatches == 1 {
						t.Errorf("worker %d write %d of %s: a retried compare-and-swap came back as %v", w, i, key, err)
					}
					if g, gerr := c.Get(ctx, key); gerr == nil {
						out.last, out.value = g.Version, string(g.Value)
					}
					continue
				}
				if err != nil {
					out.err = fmt.Errorf("worker %d write %d (cas=%v) of %s: %w", w, i, i%2 == 1, key, err)
					return
				}
				out.last, out.value = v, val
			}
		})
	}
	wg.Wait()
	mismatches := 0
	for _, r := range results {
		if r.err != nil {
			t.Error(r.err)
		}
		mismatches += r.mismatches
	}
	st := env.cluster.Stats()
	dropped := env.dropped.Load()
	t.Logf("%d writes to shard %d, %d responses dropped after apply; server applied %d puts, %d replays; %d false version mismatches",
		workers*perWorker, hot, dropped, st.Puts, st.IdempotentReplays, mismatches)
	if dropped == 0 {
		t.Fatal("no response was dropped: the test exercised no retry")
	}
	// Every call was applied exactly once, a false mismatch included (its
	// first attempt applied it).
	if want := uint64(workers * perWorker); st.Puts != want {
		t.Errorf("server applied %d puts for %d calls: a retried write was applied twice", st.Puts, want)
	}
	if st.IdempotentReplays < dropped {
		t.Errorf("%d replays for %d dropped responses: a retry was applied instead of replayed", st.IdempotentReplays, dropped)
	}
	env.dropRate.Store(0)
	for w, k := range keys {
		got, err := c.Get(context.Background(), k)
		if err != nil || got.Version != results[w].last || string(got.Value) != results[w].value {
			t.Errorf("final %s = %v, %v; want %q at %v", k, got, err, results[w].value, results[w].last)
		}
	}
}
