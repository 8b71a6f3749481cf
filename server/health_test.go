package server

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

func TestHealthCheck(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 2, Shards: 4, Token: "s3cret"})
	hc := grpchealth.NewClient(httpClient(t, true), "http://"+c.Addr("n1"), connect.WithGRPC())
	ctx := context.Background()
	// No token: a load balancer's probe needs none.
	for _, svc := range []string{"", norikvv1connect.KvName, grpchealth.HealthV1ServiceName} {
		res, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: svc})
		if err != nil || res.Status != grpchealth.StatusServing {
			t.Fatalf("Check(%q) = %v, %v; want SERVING", svc, res, err)
		}
	}
	if _, err := hc.Check(ctx, &grpchealth.CheckRequest{Service: "nope.v1.Nope"}); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("Check(unknown) err = %v, want NOT_FOUND", err)
	}
}

// A node stopped by fault injection tells its health watchers
// NOT_SERVING before its port closes and the stream ends with it.
func TestHealthWatchNotServingBeforeStop(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 2, Shards: 4})
	hc := grpchealth.NewClient(httpClient(t, true), "http://"+c.Addr("n2"), connect.WithGRPC())
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	events := hc.Watch(ctx, &grpchealth.CheckRequest{})
	if ev := <-events; ev.Err != nil || ev.Response.Status != grpchealth.StatusServing {
		t.Fatalf("first event %+v, want SERVING", ev)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- c.StopNode("n2") }()
	ev, ok := <-events
	if !ok || ev.Err != nil || ev.Response.Status != grpchealth.StatusNotServing {
		t.Fatalf("event after StopNode %+v (open %v), want NOT_SERVING", ev, ok)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
	for range events { // the stream ends with the node
	}
	if _, err := hc.Check(ctx, &grpchealth.CheckRequest{}); err == nil {
		t.Fatal("the stopped node still answers")
	}
	// Restarted, it serves again.
	if err := c.RestartNode("n2"); err != nil {
		t.Fatal(err)
	}
	if res, err := hc.Check(ctx, &grpchealth.CheckRequest{}); err != nil || res.Status != grpchealth.StatusServing {
		t.Fatalf("after restart: %v, %v", res, err)
	}
}

// Reflection lists every service, over the Connect protocol too.
func TestReflectionServed(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	req, err := http.NewRequest(http.MethodPost, "http://"+c.Addr("n1")+"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/grpc")
	res, err := httpClient(t, true).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/grpc" {
		t.Fatalf("reflection: %s %q", res.Status, res.Header.Get("Content-Type"))
	}
}
