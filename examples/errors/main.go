// Errors shows error handling and retries: matching sentinels with
// errors.Is, reading details with errors.As, what the client retries by
// itself, and bounding retries with a deadline.
package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/examples/internal/exampleenv"
)

func main() {
	exampleenv.Run(func(ctx context.Context, env *exampleenv.Env) error {
		client := env.Client

		// Sentinels: a missing key, a lost compare-and-swap.
		_, err := client.Get(ctx, "errors:nobody")
		fmt.Println("missing key is ErrKeyNotFound:", errors.Is(err, norikv.ErrKeyNotFound))

		v, err := client.Put(ctx, "errors:doc", []byte("v1"))
		if err != nil {
			return err
		}
		if _, err := client.Put(ctx, "errors:doc", []byte("v2")); err != nil {
			return err
		}
		_, err = client.Put(ctx, "errors:doc", []byte("v3"), norikv.IfMatch(v))
		fmt.Println("stale CAS is ErrVersionMismatch:", errors.Is(err, norikv.ErrVersionMismatch))

		// Details: every error is an *Error with a code and the operation.
		// Invalid requests fail before anything is sent, and are never
		// retried.
		_, err = client.Put(ctx, "", []byte("no key"))
		if e, ok := errors.AsType[*norikv.Error](err); ok {
			fmt.Println("empty key:", e.Code, "in", e.Operation)
		}

		// Graceful degradation: fall back to a default on any error.
		fmt.Println("with fallback:", getWithFallback(ctx, client, "errors:nobody", "guest"))

		// Retries: the client retries unavailable nodes and lost
		// connections with backoff, within ctx and its Timeout. Point a
		// client at a port where nothing listens to watch it give up.
		cfg := env.Config
		cfg.Nodes = []string{deadAddr}
		cfg.Retry = norikv.RetryConfig{MaxAttempts: 4, InitialDelay: 20 * time.Millisecond}
		unreachable, err := norikv.New(cfg)
		if err != nil {
			return err
		}
		defer unreachable.Close()
		short, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		_, err = unreachable.Put(short, "errors:k", []byte("v"))
		var ce *norikv.ConnectionError
		fmt.Println("unreachable node is a ConnectionError:", errors.As(err, &ce))
		fmt.Println("attempts retried:", unreachable.Stats().Requests.Retries)
		return nil
	})
}

// getWithFallback is the guide's graceful degradation: a read that never
// fails the caller.
func getWithFallback(ctx context.Context, client norikv.KV, key, def string) string {
	res, err := client.Get(ctx, key)
	if err != nil {
		return def
	}
	return string(res.Value)
}

// deadAddr is a loopback address nothing listens on: port 1, which only
// root may bind. (A port taken from the OS and released again is free for
// the next program that asks: on a busy machine another server could be
// listening there by the time the client dials.)
const deadAddr = "127.0.0.1:1"
