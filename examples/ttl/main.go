// Ttl shows time-to-live: a key written WithTTL disappears by itself. The
// TTL here is short (500ms) so the example is quick; sessions and caches
// typically use minutes or hours.
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/examples/internal/exampleenv"
)

const ttl = 500 * time.Millisecond

func main() {
	exampleenv.Run(func(ctx context.Context, env *exampleenv.Env) error {
		client := env.Client
		if _, err := client.Put(ctx, "session:abc123", []byte("user-42"), norikv.WithTTL(ttl)); err != nil {
			return err
		}
		res, err := client.Get(ctx, "session:abc123")
		if err != nil {
			return err
		}
		fmt.Println("before expiry:", string(res.Value))

		time.Sleep(ttl + 100*time.Millisecond)
		_, err = client.Get(ctx, "session:abc123")
		if !errors.Is(err, norikv.ErrKeyNotFound) {
			return fmt.Errorf("after the TTL, Get = %w; want ErrKeyNotFound", err)
		}
		fmt.Println("after", ttl, "the key expired: not found")
		return nil
	})
}
