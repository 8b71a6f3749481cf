// Topology shows the cluster view the client keeps current: the epoch, the
// nodes, who leads which shard, and a callback for every change. On the
// embedded cluster it moves one shard's leader to cause a change; a real
// cluster changes by itself (failover, rebalancing), so there it prints the
// view and exits.
package main

import (
	"context"
	"fmt"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Run(func(ctx context.Context, env *exampleenv.Env) error {
		client := env.Client
		view := client.ClusterView()
		if view == nil {
			fmt.Println("the cluster serves no view (no Meta service); routing learns from redirects")
			return nil
		}
		fmt.Println("cluster epoch:", view.Epoch)
		fmt.Println("nodes:", len(view.Nodes))
		for _, n := range view.Nodes {
			fmt.Printf("  %s %s (%s)\n", n.ID, n.Addr, n.Role)
		}
		shard := client.ShardForKey("user:alice")
		fmt.Println("user:alice lives in shard", shard)

		// Subscribe. The callback runs on its own goroutine; hand events
		// to ours through a channel.
		events := make(chan norikv.TopologyEvent, 8)
		unsubscribe := client.OnTopologyChange(func(e norikv.TopologyEvent) { events <- e })
		defer unsubscribe()

		if env.Cluster == nil {
			return nil
		}
		// Move the shard's leader, as a failover would.
		to := "n1"
		if env.Cluster.Leader(uint32(shard)) == to {
			to = "n2"
		}
		if err := env.Cluster.TransferLeader(uint32(shard), to); err != nil {
			return err
		}
		// Wait for the view that has our move (a change made elsewhere
		// in the meantime would come first).
		timeout := time.After(30 * time.Second)
		for moved := false; !moved; {
			select {
			case e := <-events:
				fmt.Printf("topology changed: epoch %d -> %d\n", e.PreviousEpoch, e.CurrentEpoch)
				for _, lc := range e.LeaderChanges {
					fmt.Printf("  shard %d leader %s -> %s\n", lc.Shard, lc.Previous, lc.Current)
					moved = moved || (int(lc.Shard) == shard && lc.Current == to)
				}
			case <-timeout:
				return fmt.Errorf("no topology event within 30s")
			}
		}
		// Calls follow the new leader without any help from us.
		if _, err := client.Put(ctx, "user:alice", []byte("Alice")); err != nil {
			return err
		}
		fmt.Println("put after the move: ok")
		return nil
	})
}
