package norikv_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/norikvtest"
	"github.com/norikv/norikv-go/server"
)

// Operations on one key run in the order they were added to a Batch, even
// before the client knows the shards' leaders (when Route spreads calls
// over the seeds), when the exchange is refused and retried (routed
// afresh, again without a leader to go to), and against servers without
// Kv.Batch (when every operation is a single call).
func TestBatchKeepsOrderOnOneKey(t *testing.T) {
	for _, tc := range []struct {
		name    string
		defects server.Defects
		refuse  bool // each round's first exchange is refused, unserved
	}{
		{"batched", server.Defects{}, false},
		{"retried exchange", server.Defects{}, true},
		{"single calls", server.Defects{NoBatch: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := norikvtest.Start(t, norikvtest.WithShards(16), norikvtest.WithDefects(tc.defects))
			ctx := context.Background()
			for round := range 20 {
				if tc.refuse {
					cl.SetFaults(failFirstBatches(1))
				}
				// A new client each round: no view, no cached leader.
				c, err := norikv.New(norikv.Config{
					Nodes: cl.Addrs(), TotalShards: cl.Shards(), DisableWatch: true,
					Retry: norikv.RetryConfig{InitialDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, Jitter: -1},
				})
				if err != nil {
					t.Fatal(err)
				}
				var b norikv.Batch
				var gets []*norikv.BatchGet
				for k := range 4 {
					key := fmt.Sprintf("order-%d-%d", round, k)
					var opts []norikv.PutOption
					if tc.refuse {
						// Without a view the client has no sessions:
						// its own key lets the write go again.
						opts = append(opts, norikv.WithIdempotencyKey(key))
					}
					b.Put(key, []byte("v"), opts...)
					gets = append(gets, b.Get(key))
				}
				if err := c.Do(ctx, &b); err != nil {
					t.Fatalf("round %d: %v", round, err)
				}
				for k, g := range gets {
					if _, err := g.Result(); err != nil {
						t.Fatalf("round %d: get %d after its put in the batch: %v", round, k, err)
					}
				}
				c.Close()
			}
		})
	}
}
