// Vectorsearch shows vector search: create an index, insert embeddings,
// find the nearest ones, read one back, delete one, drop the index. The
// "embeddings" are tiny hand-made vectors; use your model's output (e.g.
// 768 or 1536 dimensions) in real code.
package main

import (
	"context"
	"fmt"
	"log"
	"math/rand/v2"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Run(func(ctx context.Context, env *exampleenv.Env) error {
		client := env.Client
		// A fresh namespace per run, so a shared cluster's data is safe.
		ns := fmt.Sprintf("products-%08x", rand.Uint32())

		created, err := client.VectorCreateIndex(ctx, ns, 4, norikv.DistanceCosine, norikv.IndexHNSW)
		if err != nil {
			return err
		}
		fmt.Println("index created:", created)
		defer func() { // even on error
			if _, err := client.VectorDropIndex(context.WithoutCancel(ctx), ns); err != nil {
				log.Printf("dropping %s: %v", ns, err)
			}
		}()

		products := []struct {
			id  string
			vec []float32
		}{
			{"red-running-shoes", []float32{0.9, 0.1, 0.0, 0.1}},
			{"blue-trail-shoes", []float32{0.8, 0.2, 0.1, 0.0}},
			{"wool-hat", []float32{0.0, 0.1, 0.9, 0.2}},
			{"rain-jacket", []float32{0.1, 0.0, 0.3, 0.9}},
		}
		for _, p := range products {
			if _, err := client.VectorInsert(ctx, ns, p.id, p.vec, norikv.WithIdempotencyKey("insert-"+ns+"-"+p.id)); err != nil {
				return err
			}
		}
		fmt.Println("inserted:", len(products))

		query := []float32{1, 0, 0, 0} // "athletic footwear"
		res, err := client.VectorSearch(ctx, ns, query, 2)
		if err != nil {
			return err
		}
		fmt.Println("nearest to the query:")
		for _, m := range res.Matches {
			fmt.Printf("  %s (distance %.4f)\n", m.ID, m.Distance)
		}

		vec, found, err := client.VectorGet(ctx, ns, "wool-hat")
		if err != nil {
			return err
		}
		fmt.Println("wool-hat found:", found, "dimensions:", len(vec))

		deleted, err := client.VectorDelete(ctx, ns, "wool-hat")
		if err != nil {
			return err
		}
		_, found, _ = client.VectorGet(ctx, ns, "wool-hat")
		fmt.Println("deleted:", deleted, "found after delete:", found)

		dropped, err := client.VectorDropIndex(ctx, ns)
		if err != nil {
			return err
		}
		fmt.Println("index dropped:", dropped)
		return nil
	})
}
