package main

import (
	"context"
	"testing"
	"time"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/norikvtest"
)

// --timeout bounds the Admin call of cluster transfer, not only the view
// lookup before it: a node that serves the view but never answers
// TransferShard makes the command fail within the timeout instead of
// hanging.
func TestClusterTransferHonoursTimeout(t *testing.T) {
	stall := make(chan struct{})
	t.Cleanup(func() { close(stall) })
	c, _ := newCLI(t, norikvtest.WithFaults(func(ctx context.Context, _, procedure string, _ any) error {
		if procedure == norikvv1connect.AdminTransferShardProcedure {
			select {
			case <-ctx.Done():
			case <-stall:
			}
			return ctx.Err()
		}
		return nil
	}))
	done := make(chan result, 1)
	go func() { done <- c.run("cluster", "transfer", "--shard", "1", "--to", "n2", "--timeout", "500ms") }()
	select {
	case r := <-done:
		if r.status == 0 {
			t.Fatalf("cluster transfer against a stalled Admin succeeded: %q", r.stdout)
		}
	case <-time.After(15 * time.Second):
		// Cleanup releases the stalled call, so the goroutine ends.
		t.Fatal("cluster transfer --timeout 500ms still running after 15s: the timeout does not bound the Admin call")
	}
}
