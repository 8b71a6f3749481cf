// Quickstart is the API guide's quick start in Go: connect, put a value,
// get it back, delete it.
//
//	go run ./examples/quickstart                         # its own embedded cluster
//	go run ./examples/quickstart --target 127.0.0.1:9001 # a running cluster (norikv serve)
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

		version, err := client.Put(ctx, "user:alice", []byte("Alice"))
		if err != nil {
			return err
		}
		fmt.Println("put user:alice at version", version)

		res, err := client.Get(ctx, "user:alice")
		if err != nil {
			return err
		}
		fmt.Println("value:", string(res.Value))

		if err := client.Delete(ctx, "user:alice"); err != nil {
			return err
		}
		_, err = client.Get(ctx, "user:alice")
		fmt.Println("after delete, not found:", errors.Is(err, norikv.ErrKeyNotFound))
		return nil
	})
}
