package interceptors_test

import (
	"context"
	"fmt"
	"log"
	"net/http"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/server"
)

// This example makes a raw generated KvClient cluster-aware: each attempt
// goes to the key's shard leader (learned from NOT_LEADER hints), transient
// failures are retried under one idempotency key, invalid requests fail
// before any I/O, and errors come back as *interceptors.Error.
func Example_rawClient() {
	// An embedded three-node cluster. The router is given every node: it
	// follows a NOT_LEADER hint only to an address it was given.
	cluster, err := server.Start(server.Config{Shards: 64})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	key := []byte("user:1")
	seed := cluster.Addrs()[0]
	if cluster.Leader(cluster.ShardOf(key)) != "n3" {
		// The first attempt goes to n2 (seeds are taken round-robin):
		// make n3 the leader, to show a redirect.
		_ = cluster.TransferLeader(cluster.ShardOf(key), "n3")
	}

	router := interceptors.NewRouter(cluster.Addrs(), cluster.Shards())
	retry := interceptors.NewRetry(interceptors.RetryPolicy{MaxAttempts: 5})
	httpClient := &http.Client{}
	defer httpClient.CloseIdleConnections()
	kv := norikvv1connect.NewKvClient(
		interceptors.NewHTTPClient(httpClient), // sends each attempt to the routed node
		"http://"+seed,
		connect.WithInterceptors(
			interceptors.Errors(), // outermost: sees the final error
			interceptors.Validate(),
			retry,
			interceptors.Routing(router), // innermost: routes every attempt
		),
	)

	ctx := context.Background()
	res, err := kv.Put(ctx, &v1.PutRequest{Key: key, Value: []byte("alice")})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("written:", res.GetVersion().GetIndex() > 0)
	fmt.Println("redirects:", retry.Stats().Redirects)

	_, err = kv.Get(ctx, &v1.GetRequest{Key: []byte("")})
	fmt.Println(err)
	// Output:
	// written: true
	// redirects: 1
	// norikv: Get invalid_argument: validation error: key: must not be empty (at least 1 byte)
}
