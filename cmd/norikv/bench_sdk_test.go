package main

import (
	"context"
	"testing"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/internal/loadgen"
	"github.com/norikv/norikv-go/server"
)

// A one-second run of the SDK against an embedded cluster, over each
// protocol's default transport: operations complete and none fail.
func TestBenchSDKTargetAgainstEmbeddedCluster(t *testing.T) {
	cl, err := server.Start(server.Config{Shards: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	for _, p := range []norikv.Protocol{norikv.ProtocolGRPC, norikv.ProtocolConnect} {
		t.Run(p.String(), func(t *testing.T) {
			// A generous Timeout (see testTimeout): with the default 5s an
			// attempt gets 1.25s, which a loaded machine can exceed; the
			// leader is then suspect, the retry goes to a follower, and
			// the call can end on that follower's NOT_LEADER.
			c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), Protocol: p, Timeout: 30 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Connect(context.Background()); err != nil {
				t.Fatal(err)
			}
			res, err := loadgen.Run(context.Background(), sdkTarget{c: c}, loadgen.Config{
				Concurrency: 8, Duration: 500 * time.Millisecond, Keys: 200, ReadRatio: 0.5,
				Dist: loadgen.Zipf, Preload: true,
			})
			if err != nil {
				t.Fatal(err)
			}
			if res.Ops == 0 || res.Errors != 0 {
				t.Fatalf("ops %d errors %d %q", res.Ops, res.Errors, res.FirstErrors)
			}
			if g := res.PerOp["get"]; g == nil || g.Misses != 0 {
				t.Fatalf("gets: %+v", g)
			}
			if res.Latency.P50 <= 0 || res.Latency.P99 < res.Latency.P50 {
				t.Fatalf("latency %+v", res.Latency)
			}
		})
	}
}
