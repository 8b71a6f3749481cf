package norikv_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"strconv"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/server"
)

// embedded starts an in-process three-node cluster with 64 shards for the
// examples. Against a real cluster, list its nodes in Config.Nodes instead.
func embedded() *server.Cluster {
	c, err := server.Start(server.Config{Shards: 64})
	if err != nil {
		log.Fatal(err)
	}
	return c
}

// Quick start: connect, write, read, delete.
func Example() {
	cluster := embedded()
	defer cluster.Close()

	client, err := norikv.New(norikv.Config{
		Nodes:       cluster.Addrs(), // e.g. []string{"node1:9001", "node2:9001"}
		TotalShards: 64,              // must match the cluster
		Timeout:     5 * time.Second,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	if _, err := client.Put(ctx, "user:alice", []byte("Alice")); err != nil {
		log.Fatal(err)
	}
	res, err := client.Get(ctx, "user:alice")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("value:", string(res.Value))

	if err := client.Delete(ctx, "user:alice"); err != nil {
		log.Fatal(err)
	}
	_, err = client.Get(ctx, "user:alice")
	fmt.Println("after delete, not found:", errors.Is(err, norikv.ErrKeyNotFound))
	// Output:
	// value: Alice
	// after delete, not found: true
}

// A compare-and-swap loop: read, compute, write with IfMatch, and start
// over if another writer got there first.
func Example_casLoop() {
	cluster := embedded()
	defer cluster.Close()
	client, _ := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	defer client.Close()
	ctx := context.Background()

	if _, err := client.Put(ctx, "counter", []byte("41")); err != nil {
		log.Fatal(err)
	}
	increment := func() error {
		for {
			cur, err := client.Get(ctx, "counter", norikv.WithConsistency(norikv.ConsistencyLinearizable))
			if err != nil {
				return err
			}
			n, _ := strconv.Atoi(string(cur.Value))
			_, err = client.Put(ctx, "counter", []byte(strconv.Itoa(n+1)), norikv.IfMatch(cur.Version))
			if errors.Is(err, norikv.ErrVersionMismatch) {
				continue // lost the race: read again
			}
			return err
		}
	}
	if err := increment(); err != nil {
		log.Fatal(err)
	}
	res, _ := client.Get(ctx, "counter")
	fmt.Println("counter:", string(res.Value))
	// Output:
	// counter: 42
}

// An idempotency key makes a write safe to repeat, even from another
// process: the server applies it once and answers repeats with the first
// version. (Every write gets a random key for its own retries anyway.)
func Example_idempotentPut() {
	cluster := embedded()
	defer cluster.Close()
	client, _ := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	defer client.Close()
	ctx := context.Background()

	key := norikv.WithIdempotencyKey("payment-7f3a")
	v1, err := client.Put(ctx, "payment:7f3a", []byte("paid"), key)
	if err != nil {
		log.Fatal(err)
	}
	v2, err := client.Put(ctx, "payment:7f3a", []byte("paid"), key)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("same version:", v1 == v2)
	// Output:
	// same version: true
}

// WithTTL makes a key expire.
func Example_ttl() {
	cluster := embedded()
	defer cluster.Close()
	client, _ := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	defer client.Close()
	ctx := context.Background()

	// A long TTL: the key is there until it runs out.
	if _, err := client.Put(ctx, "session:abc", []byte("token"), norikv.WithTTL(time.Minute)); err != nil {
		log.Fatal(err)
	}
	_, err := client.Get(ctx, "session:abc")
	fmt.Println("before expiry:", err)

	// A short one: once it has passed, reads answer ErrKeyNotFound.
	if _, err := client.Put(ctx, "session:short", []byte("token"), norikv.WithTTL(100*time.Millisecond)); err != nil {
		log.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	_, err = client.Get(ctx, "session:short")
	fmt.Println("after expiry, not found:", errors.Is(err, norikv.ErrKeyNotFound))
	// Output:
	// before expiry: <nil>
	// after expiry, not found: true
}

// Watching the topology: the callback runs on its own goroutine for every
// new cluster view.
func ExampleClient_OnTopologyChange() {
	cluster := embedded()
	defer cluster.Close()
	client, _ := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	defer client.Close()

	events := make(chan norikv.TopologyEvent, 16)
	unsubscribe := client.OnTopologyChange(func(e norikv.TopologyEvent) { events <- e })
	defer unsubscribe()

	if err := client.Connect(context.Background()); err != nil {
		log.Fatal(err)
	}
	first := <-events
	fmt.Println("initial view: nodes added:", len(first.AddedNodes))

	shard := uint32(client.ShardForKey("user:alice"))
	target := "n2"
	if cluster.Leader(shard) == "n2" {
		target = "n3"
	}
	if err := cluster.TransferLeader(shard, target); err != nil {
		log.Fatal(err)
	}
	e := <-events
	for _, lc := range e.LeaderChanges {
		fmt.Println("leader moved to", lc.Current == target, "epoch grew:", e.CurrentEpoch > e.PreviousEpoch)
	}
	// Output:
	// initial view: nodes added: 3
	// leader moved to true epoch grew: true
}

// Stats reports connections, routing and request counters.
func ExampleClient_Stats() {
	cluster := embedded()
	defer cluster.Close()
	client, _ := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	defer client.Close()
	ctx := context.Background()
	if err := client.Connect(ctx); err != nil {
		log.Fatal(err)
	}
	for i := range 10 {
		_, _ = client.Put(ctx, fmt.Sprint("k", i), []byte("v"))
	}
	s := client.Stats()
	fmt.Println("nodes:", s.Router.TotalNodes)
	fmt.Println("cached leaders:", s.Topology.CachedLeaders)
	fmt.Println("requests:", s.Requests.Total)
	fmt.Println("has connections:", s.Pool.ActiveConnections > 0)
	// Output:
	// nodes: 3
	// cached leaders: 64
	// requests: 10
	// has connections: true
}

// The vector workflow: create an index, insert, search, get, delete, drop.
func Example_vectors() {
	cluster := embedded()
	defer cluster.Close()
	client, _ := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	defer client.Close()
	ctx := context.Background()

	created, err := client.VectorCreateIndex(ctx, "products", 3, norikv.DistanceEuclidean, norikv.IndexBruteForce)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created:", created)
	for id, v := range map[string][]float32{
		"shoe-red":  {1, 0, 0},
		"shoe-blue": {0.9, 0.1, 0},
		"hat":       {0, 0, 1},
	} {
		if _, err := client.VectorInsert(ctx, "products", id, v); err != nil {
			log.Fatal(err)
		}
	}
	res, err := client.VectorSearch(ctx, "products", []float32{1, 0, 0}, 2)
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range res.Matches {
		fmt.Printf("%s %.2f\n", m.ID, m.Distance)
	}
	vec, found, _ := client.VectorGet(ctx, "products", "hat")
	fmt.Println("hat:", vec, found)
	deleted, _ := client.VectorDelete(ctx, "products", "hat")
	dropped, _ := client.VectorDropIndex(ctx, "products")
	fmt.Println("deleted:", deleted, "dropped:", dropped)
	// Output:
	// created: true
	// shoe-red 0.00
	// shoe-blue 0.14
	// hat: [0 0 1] true
	// deleted: true dropped: true
}

// Errors: sentinels with errors.Is, details with errors.As.
func Example_errorHandling() {
	cluster := embedded()
	defer cluster.Close()
	client, _ := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	defer client.Close()
	ctx := context.Background()

	_, err := client.Get(ctx, "nobody")
	switch {
	case errors.Is(err, norikv.ErrKeyNotFound):
		fmt.Println("not found")
	case err != nil:
		fmt.Println("other error:", err)
	}

	// Invalid requests fail before anything is sent.
	_, err = client.Put(ctx, "", []byte("v"))
	if e, ok := errors.AsType[*norikv.Error](err); ok {
		fmt.Println(e.Code, e.Operation)
	}

	// Unreachable nodes: *ConnectionError inside the *Error.
	cluster.Close()
	_, err = client.Put(ctx, "k", []byte("v"))
	var ce *norikv.ConnectionError
	fmt.Println("connection error:", errors.As(err, &ce))
	// Output:
	// not found
	// invalid_argument Put
	// connection error: true
}

// Retries are bounded by the caller's ctx: a deadline ends them, and the
// error says so.
func Example_retryWithContext() {
	cluster := embedded()
	addrs := cluster.Addrs()
	cluster.Close() // nothing answers: every attempt fails and is retried

	client, _ := norikv.New(norikv.Config{
		Nodes:       addrs,
		TotalShards: 64,
		Retry: norikv.RetryConfig{
			MaxAttempts:  10,
			InitialDelay: 50 * time.Millisecond,
			MaxDelay:     time.Second,
		},
	})
	defer client.Close()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := client.Put(ctx, "k", []byte("v"))
	fmt.Println("deadline exceeded:", errors.Is(err, context.DeadlineExceeded))
	fmt.Println("retried:", client.Stats().Requests.Retries > 0)
	// Output:
	// deadline exceeded: true
	// retried: true
}

// Choosing a protocol: every server speaks gRPC, Connect and gRPC-Web.
// Connect with JSON over HTTP/1.1 goes through proxies that do not speak
// HTTP/2 and is readable on the wire.
func ExampleConfig_protocols() {
	cluster := embedded()
	defer cluster.Close()
	ctx := context.Background()
	for _, cfg := range []norikv.Config{
		{Protocol: norikv.ProtocolGRPC},                                           // HTTP/2 (h2c), binary
		{Protocol: norikv.ProtocolConnect, HTTPVersion: norikv.HTTP1, JSON: true}, // HTTP/1.1, JSON
		{Protocol: norikv.ProtocolGRPCWeb, HTTPVersion: norikv.HTTP2},             // HTTP/2, binary
	} {
		cfg.Nodes, cfg.TotalShards = cluster.Addrs(), 64
		client, err := norikv.New(cfg)
		if err != nil {
			log.Fatal(err)
		}
		_, err = client.Put(ctx, "greeting", []byte("hello over "+cfg.Protocol.String()))
		res, _ := client.Get(ctx, "greeting")
		fmt.Println(string(res.Value), err)
		client.Close()
	}
	// Output:
	// hello over grpc <nil>
	// hello over connect <nil>
	// hello over grpcweb <nil>
}

// A version's one textual form is "term:index"; ParseVersion reads it
// back, e.g. from a command line or a config file.
func ExampleParseVersion() {
	v, err := norikv.ParseVersion("3:17")
	fmt.Println(v.Term, v.Index, v, err)
	_, err = norikv.ParseVersion("3.17")
	fmt.Println(err)
	// Output:
	// 3 17 3:17 <nil>
	// norikv: ParseVersion invalid_argument: version "3.17": missing ":index" (want term:index, e.g. 3:17)
}
