package loadgen_test

import (
	"context"
	"testing"
	"time"

	"github.com/norikv/norikv-go/internal/loadgen"
	"github.com/norikv/norikv-go/internal/loadgen/targets"
	"github.com/norikv/norikv-go/server"
)

// A short run of the raw generated client, with a static routing table,
// against an embedded cluster: operations complete and none fail. (The
// SDK's run is in cmd/norikv, next to its adapter.)
func TestRunAgainstEmbeddedCluster(t *testing.T) {
	cl, err := server.Start(server.Config{Shards: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	// The raw generated client with a static routing table.
	tab, err := targets.NewTable(cl.View())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := targets.NewRaw(tab, "grpc")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	res, err := loadgen.Run(context.Background(), raw, loadgen.Config{Concurrency: 4, Duration: 300 * time.Millisecond, Keys: 100, ReadRatio: 0.5, Preload: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Ops == 0 || res.Errors != 0 || res.PerOp["get"].Misses != 0 {
		t.Fatalf("raw: ops %d errors %d %q", res.Ops, res.Errors, res.FirstErrors)
	}
}
