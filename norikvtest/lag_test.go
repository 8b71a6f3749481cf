package norikvtest_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/norikvtest"
)

// With replication lag, linearizable reads through the SDK always see the
// last acknowledged write, while stale_ok reads (spread over replicas) may
// not: the lag is observable and the consistency levels differ.
func TestReplicationLagThroughSDK(t *testing.T) {
	c := norikvtest.Start(t, norikvtest.WithShards(8), norikvtest.WithReplicationLag(time.Hour))
	cl, err := norikv.New(norikv.Config{Nodes: c.Endpoints()})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	stale := 0
	for i := range 30 {
		key := "k" + strconv.Itoa(i%3)
		v, err := cl.Put(ctx, key, []byte(strconv.Itoa(i)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := cl.Get(ctx, key, norikv.WithConsistency(norikv.ConsistencyLinearizable))
		if err != nil {
			t.Fatal(err)
		}
		if got.Version != v || string(got.Value) != strconv.Itoa(i) {
			t.Fatalf("linearizable get %q = %q %v after put %v", key, got.Value, got.Version, v)
		}
		for range 3 {
			if got, err := cl.Get(ctx, key, norikv.WithConsistency(norikv.ConsistencyStaleOK)); err != nil || got.Version != v {
				stale++
			}
		}
	}
	if stale == 0 {
		t.Fatal("no stale_ok read saw the lag: every replica answered the latest write")
	}
}
