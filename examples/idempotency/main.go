// Idempotency shows idempotency keys: a write sent twice under the same key
// is applied once, and the repeat gets the first write's version back. This
// is what makes "retry after a timeout" safe, even from another process.
package main

import (
	"context"
	"fmt"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Run(func(ctx context.Context, env *exampleenv.Env) error {
		client := env.Client
		// Derive the key from the business operation, not from the
		// attempt: every retry of "create order 12345" must carry it.
		create := norikv.WithIdempotencyKey("create-order-12345")

		v1, err := client.Put(ctx, "order:12345", []byte(`{"total": 42}`), create)
		if err != nil {
			return err
		}
		// Say the reply was lost and we retry.
		v2, err := client.Put(ctx, "order:12345", []byte(`{"total": 42}`), create)
		if err != nil {
			return err
		}
		fmt.Println("first write at", v1, "retry answered with", v2)
		fmt.Println("same version (applied once):", v1 == v2)

		// A write without a key is a new write every time.
		v3, err := client.Put(ctx, "order:12345", []byte(`{"total": 42}`))
		if err != nil {
			return err
		}
		fmt.Println("a write without the key is new:", v3 != v1)

		if env.Cluster != nil {
			s := env.Cluster.Stats()
			fmt.Println("server applied", s.Puts, "puts and replayed", s.IdempotentReplays)
		}
		return nil
	})
}
