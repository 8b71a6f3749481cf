package examples_test

// The Go code of README.md. Every ```go block of the README is a copy of
// declarations in this file (TestReadmeGoBlocks checks it character for
// character), and the Examples and tests below run them, so the README
// cannot show code that does not compile or does not work.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"go.uber.org/mock/gomock"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/mocks"
	"github.com/norikv/norikv-go/norikvtest"
	"github.com/norikv/norikv-go/server"
)

func quickStart(ctx context.Context, nodes []string) error {
	client, err := norikv.New(norikv.Config{
		Nodes:       nodes, // e.g. []string{"localhost:9001", "localhost:9002"}
		TotalShards: 1024,  // optional: 0 learns it from the cluster; a wrong count is an error
		Timeout:     5 * time.Second,
	})
	if err != nil {
		return err
	}
	defer client.Close() // one client per process: share it, close it at exit

	version, err := client.Put(ctx, "user:alice", []byte("Alice"))
	if err != nil {
		return err
	}
	res, err := client.Get(ctx, "user:alice")
	if err != nil {
		return err
	}
	fmt.Println("value:", string(res.Value), "same version:", res.Version == version)

	return client.Delete(ctx, "user:alice")
}

func newClient(nodes []string) (*norikv.Client, error) {
	return norikv.New(norikv.Config{
		Nodes:       nodes,
		TotalShards: 1024,
		Timeout:     5 * time.Second, // per call, retries included
		Retry: norikv.RetryConfig{
			MaxAttempts:  10,
			InitialDelay: 100 * time.Millisecond,
			MaxDelay:     5 * time.Second,
			Jitter:       100 * time.Millisecond,
		},
	})
}

func coreOperations(ctx context.Context, client norikv.KV) error {
	// PUT with a TTL and an idempotency key.
	v, err := client.Put(ctx, "order:12345", []byte(`{"total": 42}`),
		norikv.WithTTL(time.Minute),
		norikv.WithIdempotencyKey("create-order-12345"),
	)
	if err != nil {
		return err
	}
	// GET with a consistency level: lease (default), linearizable, stale_ok
	// (any replica: the fastest, hedged; see Tail latency below).
	res, err := client.Get(ctx, "order:12345", norikv.WithConsistency(norikv.ConsistencyLinearizable))
	if err != nil {
		return err
	}
	fmt.Println(string(res.Value), res.Version == v)
	// DELETE, only if nobody wrote since our read (compare-and-swap).
	return client.Delete(ctx, "order:12345", norikv.IfMatch(res.Version))
}

func increment(ctx context.Context, client norikv.KV, key string) error {
	for {
		cur, err := client.Get(ctx, key)
		if errors.Is(err, norikv.ErrKeyNotFound) {
			// Compare-and-swap has no "only if absent": two increments of a
			// missing key could both write 1. Create counters once, first.
			return fmt.Errorf("counter %q does not exist: create it first (Put %q): %w", key, "0", err)
		}
		if err != nil {
			return err
		}
		n, _ := strconv.Atoi(string(cur.Value))
		_, err = client.Put(ctx, key, []byte(strconv.Itoa(n+1)), norikv.IfMatch(cur.Version))
		if errors.Is(err, norikv.ErrVersionMismatch) {
			continue // someone else wrote first: read again
		}
		return err
	}
}

func watchTopology(client *norikv.Client) (unsubscribe func()) {
	if view := client.ClusterView(); view != nil {
		fmt.Println("epoch:", view.Epoch, "nodes:", len(view.Nodes))
	}
	return client.OnTopologyChange(func(e norikv.TopologyEvent) {
		fmt.Println("epoch", e.PreviousEpoch, "->", e.CurrentEpoch,
			"added:", e.AddedNodes, "removed:", e.RemovedNodes, "leader moves:", len(e.LeaderChanges))
	})
}

func printStats(client *norikv.Client) {
	s := client.Stats()
	fmt.Println("connected:", s.Pool.ActiveConnections > 0)
	fmt.Println("total nodes:", s.Router.TotalNodes)
	fmt.Println("cached leaders:", s.Topology.CachedLeaders)
	fmt.Println("requests:", s.Requests.Total, "retries:", s.Requests.Retries)
}

func vectorSearch(ctx context.Context, client norikv.Vectors, embedding []float32) error {
	if _, err := client.VectorCreateIndex(ctx, "products", len(embedding), norikv.DistanceCosine, norikv.IndexHNSW); err != nil {
		return err
	}
	if _, err := client.VectorInsert(ctx, "products", "prod-001", embedding); err != nil {
		return err
	}
	res, err := client.VectorSearch(ctx, "products", embedding, 5, norikv.WithIncludeVectors())
	if err != nil {
		return err
	}
	for _, m := range res.Matches {
		fmt.Printf("%s (distance %.4f, %d dims)\n", m.ID, m.Distance, len(m.Vector))
	}
	if _, err := client.VectorDelete(ctx, "products", "prod-001"); err != nil {
		return err
	}
	_, err = client.VectorDropIndex(ctx, "products")
	return err
}

func safeGet(ctx context.Context, client norikv.KV, key string) (string, error) {
	res, err := client.Get(ctx, key)
	var connErr *norikv.ConnectionError
	var e *norikv.Error
	switch {
	case err == nil:
		return string(res.Value), nil
	case errors.Is(err, norikv.ErrKeyNotFound):
		return "", nil // absent is not an error here
	case errors.As(err, &connErr):
		return "", fmt.Errorf("cluster unreachable (already retried): %w", err)
	case errors.As(err, &e):
		return "", fmt.Errorf("%s failed with %s: %w", e.Operation, e.Code, err)
	default:
		return "", err // context.Canceled or DeadlineExceeded: errors.Is works
	}
}

func secureConfig(caPool *x509.CertPool) norikv.Config {
	return norikv.Config{
		Nodes:       []string{"node1.example.com:9001", "node2.example.com:9001"},
		TotalShards: 1024,
		Protocol:    norikv.ProtocolConnect, // or ProtocolGRPCWeb; default ProtocolGRPC
		HTTPVersion: norikv.HTTP1,           // through HTTP/1.1-only proxies
		TLS:         &tls.Config{RootCAs: caPool},
		BearerToken: os.Getenv("NORIKV_TOKEN"), // "Authorization: Bearer ..." on every request
	}
}

func TestGreeting(t *testing.T) {
	cluster := norikvtest.Start(t, norikvtest.WithShards(64)) // closed by t.Cleanup
	client, err := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	ctx := context.Background()

	if _, err := client.Put(ctx, "greeting", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	// Failover: stop the leader of the key's shard; a replica takes over.
	shard := cluster.ShardOf([]byte("greeting"))
	if err := cluster.StopNode(cluster.Leader(shard)); err != nil {
		t.Fatal(err)
	}
	res, err := client.Get(ctx, "greeting")
	if err != nil || string(res.Value) != "hello" {
		t.Fatalf("after failover: %v, %v", res, err)
	}
}

// greet is code under test: it takes norikv.KV, not *norikv.Client.
func greet(ctx context.Context, kv norikv.KV, name string) (string, error) {
	res, err := kv.Get(ctx, "greeting")
	if errors.Is(err, norikv.ErrKeyNotFound) {
		return "hello, " + name, nil
	}
	if err != nil {
		return "", err
	}
	return string(res.Value) + ", " + name, nil
}

func TestGreetWithMock(t *testing.T) {
	ctrl := gomock.NewController(t)
	kv := mocks.NewMockKV(ctrl)
	kv.EXPECT().Get(gomock.Any(), "greeting").Return(nil, norikv.ErrKeyNotFound)

	got, err := greet(context.Background(), kv, "Ada")
	if err != nil || got != "hello, Ada" {
		t.Fatalf("greet = %q, %v", got, err)
	}
}

// The Examples below run the snippets above against an embedded cluster
// and check what they print.

// staleRead reads a key from any replica (the fastest, hedged: the
// defaults) and prints what hedging did.
func staleRead(ctx context.Context, nodes []string) error {
	client, err := norikv.New(norikv.Config{Nodes: nodes}) // the defaults: fastest replica, hedging on
	if err != nil {
		return err
	}
	defer client.Close()
	_, err = client.Get(ctx, "user:alice", norikv.WithConsistency(norikv.ConsistencyStaleOK))
	st := client.Stats()
	fmt.Println(st.Hedges.Sent, st.Hedges.Won, st.Hedges.Refused, st.Replicas) // reads and latency estimate per node
	return err
}

// The stale-read snippet runs: a stale Get of a key just written. (A
// test, not an Example: whether a hedge goes out depends on timing.)
func TestStaleReadSnippet(t *testing.T) {
	cluster := startCluster()
	defer cluster.Close()
	ctx := context.Background()
	client, err := newClient(cluster.Addrs())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Put(ctx, "user:alice", []byte("Alice")); err != nil {
		t.Fatal(err)
	}
	// A replica may lag behind the write: not found is a stale read too.
	if err := staleRead(ctx, cluster.Addrs()); err != nil && !errors.Is(err, norikv.ErrKeyNotFound) {
		t.Fatal(err)
	}
}

func startCluster() *server.Cluster {
	c, err := server.Start(server.Config{}) // 3 nodes, 1024 shards, ephemeral ports
	if err != nil {
		panic(err)
	}
	return c
}

func Example_quickStart() {
	cluster := startCluster()
	defer cluster.Close()
	if err := quickStart(context.Background(), cluster.Addrs()); err != nil {
		panic(err)
	}
	// Output: value: Alice same version: true
}

func Example_coreOperations() {
	cluster := startCluster()
	defer cluster.Close()
	client, err := newClient(cluster.Addrs())
	if err != nil {
		panic(err)
	}
	defer client.Close()
	ctx := context.Background()
	if err := coreOperations(ctx, client); err != nil {
		panic(err)
	}
	_, err = client.Get(ctx, "order:12345")
	fmt.Println("deleted:", errors.Is(err, norikv.ErrKeyNotFound))
	// Output:
	// {"total": 42} true
	// deleted: true
}

func Example_increment() {
	cluster := startCluster()
	defer cluster.Close()
	client, _ := newClient(cluster.Addrs())
	defer client.Close()
	ctx := context.Background()
	err := increment(ctx, client, "counter")
	fmt.Println(errors.Is(err, norikv.ErrKeyNotFound), err)
	if _, err := client.Put(ctx, "counter", []byte("41")); err != nil {
		panic(err)
	}
	if err := increment(ctx, client, "counter"); err != nil {
		panic(err)
	}
	res, _ := client.Get(ctx, "counter")
	fmt.Println(string(res.Value))
	// Output:
	// true counter "counter" does not exist: create it first (Put "0"): norikv: Get key "counter" not_found: key not found
	// 42
}

func Example_watchTopology() {
	cluster := startCluster()
	defer cluster.Close()
	client, _ := newClient(cluster.Addrs())
	defer client.Close()
	if err := client.Connect(context.Background()); err != nil {
		panic(err)
	}
	unsubscribe := watchTopology(client)
	defer unsubscribe()
	printStats(client)
	// Output:
	// epoch: 1 nodes: 3
	// connected: true
	// total nodes: 3
	// cached leaders: 1024
	// requests: 0 retries: 0
}

func Example_vectorSearch() {
	cluster := startCluster()
	defer cluster.Close()
	client, _ := newClient(cluster.Addrs())
	defer client.Close()
	if err := vectorSearch(context.Background(), client, []float32{0.1, 0.7, 0.2}); err != nil {
		panic(err)
	}
	// Output: prod-001 (distance 0.0000, 3 dims)
}

func Example_safeGet() {
	cluster := startCluster()
	client, _ := norikv.New(norikv.Config{Nodes: cluster.Addrs(), TotalShards: 1024, Timeout: time.Second})
	defer client.Close()
	ctx := context.Background()
	v, err := safeGet(ctx, client, "nobody")
	fmt.Printf("%q %v\n", v, err)
	cluster.Close()
	_, err = safeGet(ctx, client, "nobody")
	fmt.Println(err != nil)
	// Output:
	// "" <nil>
	// true
}

func Example_secureConfig() {
	client, err := norikv.New(secureConfig(x509.NewCertPool()))
	if err != nil {
		panic(err)
	}
	defer client.Close()
	fmt.Println("valid config; no I/O until the first call")
	// Output: valid config; no I/O until the first call
}
