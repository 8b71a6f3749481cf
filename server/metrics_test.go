package server

import (
	"context"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// An idempotency key forgotten before its TTL to make room counts as an
// eviction; the cache size and the requests are in the scrape.
func TestMetricsIdempotencyEvictions(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 1, IdempotencyMaxEntries: 1, IdempotencyRetryWindow: time.Millisecond})
	kv := dial(t, c.Addr("n1"), grpcProto).kv
	ctx := context.Background()
	for _, k := range []string{"a", "b"} {
		if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte(k), Value: []byte("v"), IdempotencyKey: "key-" + k}); err != nil {
			t.Fatal(err)
		}
		clk.advance(time.Second) // past the retry window
	}
	if _, err := grpchealth.NewClient(httpClient(t, true), "http://"+c.Addr("n1"), connect.WithGRPC()).Check(ctx, &grpchealth.CheckRequest{}); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"norikv_idempotency_cache_entries 1\n",
		"norikv_idempotency_cache_evictions_total 1\n",
		`norikv_requests_total{node="n1",rpc="/norikv.v1.Kv/Put",code="ok"} 2` + "\n",
		`norikv_requests_total{node="n1",rpc="/grpc.health.v1.Health/Check",code="ok"} 1` + "\n",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("metrics lack %q:\n%s", want, b.String())
		}
	}
}

// Every RPC the cluster serves is counted under its own name: one added
// to a service must not fall into "other".
func TestMetricsCountEveryProcedure(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	kv := dial(t, c.Addr("n1"), grpcProto).kv
	req := &v1.BatchRequest{Ops: []*v1.BatchOp{{Op: &v1.BatchOp_Get{Get: &v1.GetRequest{Key: []byte("k")}}}}}
	if _, err := kv.Batch(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := c.WriteMetrics(&b); err != nil {
		t.Fatal(err)
	}
	want := `norikv_requests_total{node="n1",rpc="/norikv.v1.Kv/Batch",code="ok"} 1` + "\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("metrics lack %q:\n%s", want, b.String())
	}
}

// A WatchCluster stream the client closes is counted as canceled, not as
// an unknown error.
func TestMetricsWatchClosedByClientIsCanceled(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	for _, p := range protocols {
		ctx, cancel := context.WithCancel(context.Background())
		stream, err := dial(t, c.Addr("n1"), p).meta.WatchCluster(ctx, &v1.ClusterView{})
		if err != nil {
			t.Fatal(err)
		}
		if !stream.Receive() {
			t.Fatalf("%s: no first view: %v", p.name, stream.Err())
		}
		cancel()
		stream.Close()
	}
	want := `norikv_requests_total{node="n1",rpc="/norikv.v1.Meta/WatchCluster",code="canceled"} 3` + "\n"
	var b strings.Builder
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(b.String(), want) && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		b.Reset()
		if err := c.WriteMetrics(&b); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(b.String(), want) {
		t.Fatalf("metrics lack %q:\n%s", want, b.String())
	}
}
