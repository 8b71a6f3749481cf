package interceptors_test

import (
	"context"
	"fmt"
	"net/http"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/testserver"
)

// This example makes a raw generated KvClient cluster-aware: requests go
// to the key's shard leader (learned from NOT_LEADER hints), transient
// failures are retried with one idempotency key, and errors come back as
// *interceptors.Error.
func Example_rawClient() {
	// A three-node cluster whose node 3 leads every shard; only node 1 is
	// given as a seed.
	cluster := testserver.Start(nil, 3, 64)
	defer cluster.Close()
	cluster.SetLeader(-1, 2)
	seeds := cluster.Addrs()[:1]

	router := interceptors.NewRouter(seeds, 64)
	retry := interceptors.NewRetry(interceptors.RetryPolicy{MaxAttempts: 5})
	httpClient := &http.Client{}
	defer httpClient.CloseIdleConnections()
	kv := norikvv1connect.NewKvClient(
		interceptors.NewHTTPClient(httpClient), // sends each attempt to the routed node
		"http://"+seeds[0],
		connect.WithInterceptors(
			interceptors.Errors(),
			interceptors.Validate(),
			retry,
			interceptors.Routing(router),
		),
	)

	ctx := context.Background()
	res, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("user:1"), Value: []byte("alice")})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("version index > 0:", res.GetVersion().GetIndex() > 0)
	fmt.Println("redirects:", retry.Stats().Redirects)

	_, err = kv.Get(ctx, &v1.GetRequest{Key: []byte("")})
	fmt.Println(err)
	// Output:
	// version index > 0: true
	// redirects: 1
	// norikv: Get invalid_argument: validation error: key: must be at least 1 bytes
}
