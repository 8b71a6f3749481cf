// Stats shows the client's counters: connections, routing, the cluster
// view and requests (retries, redirects, failures, retry budget) — what to
// export to your metrics system.
package main

import (
	"context"
	"errors"
	"fmt"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Run(func(ctx context.Context, env *exampleenv.Env) error {
		client := env.Client
		for i := range 20 {
			if _, err := client.Put(ctx, fmt.Sprintf("stats:key:%d", i), []byte("v")); err != nil {
				return err
			}
		}
		if _, err := client.Get(ctx, "stats:missing"); !errors.Is(err, norikv.ErrKeyNotFound) {
			return fmt.Errorf("get of a missing key = %w", err)
		}

		s := client.Stats()
		fmt.Println("active connections:", s.Pool.ActiveConnections)
		fmt.Println("connections dialed:", s.Pool.Dialed)
		fmt.Println("total nodes:", s.Router.TotalNodes)
		fmt.Println("total shards:", s.Router.TotalShards)
		fmt.Println("cached leaders:", s.Topology.CachedLeaders)
		fmt.Println("epoch:", s.Topology.Epoch)
		fmt.Println("requests:", s.Requests.Total)
		fmt.Println("retries:", s.Requests.Retries, "redirects:", s.Requests.Redirects)
		fmt.Println("failures:", s.Requests.Failures) // a missing key is no failure: the server answers it OK
		fmt.Println("retry budget tokens:", s.Requests.BudgetTokens)
		fmt.Println("all in one line:", s) // Stats.String, for logs
		return nil
	})
}
