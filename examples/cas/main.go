// Cas shows compare-and-swap: a write with IfMatch applies only if the key
// is still at the version the writer read, so concurrent read-modify-write
// cycles never lose an update. Four goroutines increment one counter with
// a CAS loop; the total is exact however the writes interleave.
package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/examples/internal/exampleenv"
)

const key = "counter:visits"

func main() {
	exampleenv.Run(func(ctx context.Context, env *exampleenv.Env) error {
		client := env.Client
		if _, err := client.Put(ctx, key, []byte("0")); err != nil {
			return err
		}

		// A stale version loses: read, let someone else write, then CAS.
		cur, err := client.Get(ctx, key)
		if err != nil {
			return err
		}
		if _, err := client.Put(ctx, key, []byte("0")); err != nil {
			return err
		}
		_, err = client.Put(ctx, key, []byte("1"), norikv.IfMatch(cur.Version))
		fmt.Println("CAS with a stale version fails:", errors.Is(err, norikv.ErrVersionMismatch))

		// The loop: read, compute, write with IfMatch, start over on a
		// mismatch.
		var retried atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for range 4 {
			wg.Go(func() {
				for range 10 {
					n, err := increment(ctx, client)
					if err != nil {
						errs <- err
						return
					}
					retried.Add(int64(n))
				}
			})
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return err
		}
		res, err := client.Get(ctx, key, norikv.WithConsistency(norikv.ConsistencyLinearizable))
		if err != nil {
			return err
		}
		fmt.Println("counter after 4 writers x 10 increments:", string(res.Value))
		fmt.Println("lost races, retried:", retried.Load())
		return nil
	})
}

// increment adds one to the counter and returns how many times it lost the
// race before winning.
func increment(ctx context.Context, client *norikv.Client) (lost int, err error) {
	for {
		cur, err := client.Get(ctx, key, norikv.WithConsistency(norikv.ConsistencyLinearizable))
		if err != nil {
			return lost, err
		}
		n, err := strconv.Atoi(string(cur.Value))
		if err != nil {
			return lost, fmt.Errorf("%s holds %q, not a number", key, cur.Value)
		}
		_, err = client.Put(ctx, key, []byte(strconv.Itoa(n+1)), norikv.IfMatch(cur.Version))
		if errors.Is(err, norikv.ErrVersionMismatch) {
			lost++
			continue // someone else wrote first: read again
		}
		return lost, err
	}
}
