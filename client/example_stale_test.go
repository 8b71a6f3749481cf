package norikv_test

import (
	"context"
	"fmt"
	"log"
	"sync/atomic"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/server"
)

// Stale reads that stay fast while one replica is slow: node n2 answers
// every call 200ms late (a fault hook standing in for a stalled disk).
// ConsistencyStaleOK reads go to the replicas the client measured fastest,
// and a read still waiting after the hedge delay is sent to a second
// replica; Stats says how often.
func ExampleStaleReadConfig() {
	var slowReads atomic.Int64
	cluster, err := server.Start(server.Config{Shards: 64, Faults: func(ctx context.Context, node, _ string, _ any) error {
		if node != "n2" {
			return nil
		}
		slowReads.Add(1)
		select {
		case <-time.After(200 * time.Millisecond):
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()

	client, err := norikv.New(norikv.Config{
		Nodes:       cluster.Addrs(),
		TotalShards: 64,
		// The defaults: the fastest replicas, hedging on, at most 5%
		// extra requests. Here a fixed hedge delay instead of the tracked
		// p99 of recent reads.
		StaleReads: norikv.StaleReadConfig{HedgeDelay: 20 * time.Millisecond},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	// A key whose shard n2 does not lead, so the write is not slowed.
	key := "user:alice"
	for i := 0; cluster.Leader(cluster.ShardOf([]byte(key))) == "n2"; i++ {
		key = fmt.Sprintf("user:alice-%d", i)
	}
	if _, err := client.Put(ctx, key, []byte("Alice")); err != nil {
		log.Fatal(err)
	}
	slowReads.Store(0)
	start := time.Now()
	for range 50 {
		res, err := client.Get(ctx, key, norikv.WithConsistency(norikv.ConsistencyStaleOK))
		if err != nil || string(res.Value) != "Alice" {
			log.Fatal(res, err)
		}
	}
	fmt.Println("50 stale reads, well under 50 × 200ms:", time.Since(start) < 5*time.Second)
	// n2 gets a read to learn it is slow, then mostly hedges: a read to a
	// fast replica that a busy machine stalls past the hedge delay is
	// hedged, sometimes to n2 (a lost race only tells the client that n2
	// took longer than the delay). The hedge budget bounds those.
	fmt.Println("the slow replica got at most a few of them:", slowReads.Load() <= 10)
	st := client.Stats()
	fmt.Println("hedges within the budget:", st.Hedges.Sent <= 5+50/20)
	// Output:
	// 50 stale reads, well under 50 × 200ms: true
	// the slow replica got at most a few of them: true
	// hedges within the budget: true
}
