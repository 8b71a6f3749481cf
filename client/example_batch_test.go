package norikv_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	norikv "github.com/norikv/norikv-go/client"
)

// MultiGet reads many keys in one exchange per node; each key has its own
// result or error.
func ExampleClient_MultiGet() {
	cluster := embedded()
	defer cluster.Close()
	client, err := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	if _, err := client.MultiPut(ctx, []norikv.KeyValue{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}}); err != nil {
		log.Fatal(err)
	}
	keys := []string{"a", "b", "missing"}
	results, err := client.MultiGet(ctx, keys)
	var be *norikv.BatchError
	if err != nil && !errors.As(err, &be) {
		log.Fatal(err) // not per key: the client was closed, say
	}
	for i, k := range keys {
		switch {
		case be != nil && errors.Is(be.Errs[i], norikv.ErrKeyNotFound):
			fmt.Println(k, "not found")
		case be != nil && be.Errs[i] != nil:
			fmt.Println(k, "failed:", be.Errs[i])
		default:
			fmt.Println(k, "=", string(results[i].Value))
		}
	}
	// Output:
	// a = 1
	// b = 2
	// missing not found
}

// A Batch mixes operations, each with its own options and result; it is
// not a transaction.
func ExampleBatch() {
	cluster := embedded()
	defer cluster.Close()
	client, err := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	var b norikv.Batch
	put := b.Put("counter", []byte("1"))
	cas := b.Put("other", []byte("x"), norikv.IfMatch(norikv.Version{Term: 1, Index: 999}))
	get := b.Get("counter")
	err = client.Do(ctx, &b)
	fmt.Println("any version mismatch:", errors.Is(err, norikv.ErrVersionMismatch))
	if _, err := put.Result(); err == nil {
		fmt.Println("put ok")
	}
	if _, err := cas.Result(); errors.Is(err, norikv.ErrVersionMismatch) {
		fmt.Println("cas lost")
	}
	if r, err := get.Result(); err == nil {
		fmt.Println("counter =", string(r.Value))
	}
	// Output:
	// any version mismatch: true
	// put ok
	// cas lost
	// counter = 1
}
