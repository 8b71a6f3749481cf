package server

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"

	consolev1 "github.com/norikv/norikv-go/gen/norikv/console/v1"
	"github.com/norikv/norikv-go/gen/norikv/console/v1/consolev1connect"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

func consoleClient(t *testing.T, addr string, opts ...connect.ClientOption) consolev1connect.ConsoleServiceClient {
	return consolev1connect.NewConsoleServiceClient(httpClient(t, false), "http://"+addr, opts...)
}

// watchUntil reads the stream until ok holds for a message, failing after
// 10 s.
func watchUntil(t *testing.T, s *connect.ServerStreamForClient[consolev1.WatchResponse], what string, ok func(*consolev1.WatchResponse) bool) *consolev1.WatchResponse {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for s.Receive() {
		if ok(s.Msg()) {
			return s.Msg()
		}
		if time.Now().After(deadline) {
			break
		}
	}
	t.Fatalf("console stream: no message with %s (stream error %v)", what, s.Err())
	return nil
}

func nodeSample(s *consolev1.Sample, id string) *consolev1.NodeSample {
	for _, n := range s.GetNodes() {
		if n.GetNodeId() == id {
			return n
		}
	}
	return nil
}

// The console stream carries the view, events for a stopped and restarted
// node, the server's own call counts and latency (a delayed node's p99
// shows the delay), the load generator's calls, and the namespaces.
func TestConsoleStream(t *testing.T) {
	c, _ := startTest(t, Config{Shards: 16, Console: true, ConsoleControls: true})
	ctx := ctxT(t)
	cc := consoleClient(t, c.Addr("n1"))
	s, err := cc.Watch(ctx, &consolev1.WatchRequest{IntervalMs: 250})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first := watchUntil(t, s, "the first message", func(*consolev1.WatchResponse) bool { return true })
	if first.GetView().GetEpoch() != c.Epoch() || first.GetSample() == nil || !first.GetControls() {
		t.Fatalf("first message: view epoch %d (cluster %d), sample %v, controls %v",
			first.GetView().GetEpoch(), c.Epoch(), first.GetSample(), first.GetControls())
	}

	// A stopped node: an event naming it down with the shards it led, and
	// a view where it is down.
	led := 0
	for _, sh := range c.View().GetShards() {
		if shardLeader(sh) == "n3" {
			led++
		}
	}
	if _, err := cc.StopNode(ctx, &consolev1.StopNodeRequest{NodeId: "n3"}); err != nil {
		t.Fatal(err)
	}
	m := watchUntil(t, s, "n3 down", func(m *consolev1.WatchResponse) bool {
		for _, ev := range m.GetEvents() {
			for _, n := range ev.GetNodes() {
				if n.GetNodeId() == "n3" && n.GetToRole() == "down" {
					return len(ev.GetMoves()) == led
				}
			}
		}
		return false
	})
	for _, mv := range m.GetEvents()[len(m.GetEvents())-1].GetMoves() {
		if mv.GetFromNode() != "n3" || mv.GetToNode() == "n3" || mv.GetToNode() == "" {
			t.Errorf("move %v: want from n3 to a live node", mv)
		}
	}
	watchUntil(t, s, "a sample with n3 not up", func(m *consolev1.WatchResponse) bool {
		n := nodeSample(m.GetSample(), "n3")
		return n != nil && !n.GetUp()
	})
	if _, err := cc.RestartNode(ctx, &consolev1.RestartNodeRequest{NodeId: "n3"}); err != nil {
		t.Fatal(err)
	}
	watchUntil(t, s, "n3 up", func(m *consolev1.WatchResponse) bool {
		for _, ev := range m.GetEvents() {
			for _, n := range ev.GetNodes() {
				if n.GetNodeId() == "n3" && n.GetFromRole() == "down" {
					return true
				}
			}
		}
		return false
	})

	// Calls on a slowed node: counted by RPC and code, and its p99 is at
	// least the delay (the bucket holding 60 ms starts at 50 ms).
	if _, err := cc.SetNodeDelay(ctx, &consolev1.SetNodeDelayRequest{NodeId: "n1", DelayMs: 60}); err != nil {
		t.Fatal(err)
	}
	kv := dial(t, c.Addr("n1"), grpcProto).kv
	for range 3 {
		if _, err := kv.Get(ctx, &v1.GetRequest{Key: []byte("any"), Consistency: "eventual"}); err != nil {
			t.Fatal(err)
		}
	}
	m = watchUntil(t, s, "n1's slow Gets", func(m *consolev1.WatchResponse) bool {
		n := nodeSample(m.GetSample(), "n1")
		for _, rc := range n.GetCalls() {
			if rc.GetRpc() == "Kv/Get" && rc.GetCode() == "ok" {
				return true
			}
		}
		return false
	})
	if n := nodeSample(m.GetSample(), "n1"); n.GetP99Ms() < 50 || n.GetDelayMs() != 60 {
		t.Fatalf("n1 slowed by 60 ms: sample says p99 %.1f ms, delay %d ms", n.GetP99Ms(), n.GetDelayMs())
	}
	if _, err := cc.SetNodeDelay(ctx, &consolev1.SetNodeDelayRequest{NodeId: "n1"}); err != nil {
		t.Fatal(err)
	}

	// The load generator's calls reach the nodes and its counters.
	if _, err := cc.SetLoad(ctx, &consolev1.SetLoadRequest{Running: true, Workers: 2, TargetOps: 200}); err != nil {
		t.Fatal(err)
	}
	watchUntil(t, s, "load calls", func(m *consolev1.WatchResponse) bool {
		var calls uint64
		for _, n := range m.GetSample().GetNodes() {
			for _, rc := range n.GetCalls() {
				calls += rc.GetCount()
			}
		}
		return m.GetSample().GetLoad().GetRunning() && m.GetSample().GetLoad().GetOps() > 20 && calls > 10
	})
	res, err := cc.SetLoad(ctx, &consolev1.SetLoadRequest{})
	if err != nil || res.GetLoad().GetRunning() || res.GetLoad().GetErrors() != 0 {
		t.Fatalf("stop load: %v %v", res, err)
	}

	// Namespaces, by name.
	for _, ns := range []string{"zeta", "alpha"} {
		vc := dial(t, c.Addr(c.Leader(c.shardForString(ns).id)), grpcProto).vector
		if _, err := vc.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 3,
			Distance: v1.DistanceFunction_DISTANCE_FUNCTION_COSINE, IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_BRUTE_FORCE}); err != nil {
			t.Fatal(err)
		}
	}
	list, err := cc.ListNamespaces(ctx, &consolev1.ListNamespacesRequest{})
	if err != nil || len(list.GetNamespaces()) != 2 || list.GetNamespaces()[0].GetName() != "alpha" || list.GetNamespaces()[1].GetDimensions() != 3 {
		t.Fatalf("namespaces: %v %v", list, err)
	}
}

// Stopping the node that serves the control answers first, then stops.
func TestConsoleStopSelf(t *testing.T) {
	c, _ := startTest(t, Config{Shards: 8, Console: true, ConsoleControls: true})
	cc := consoleClient(t, c.Addr("n2"))
	if _, err := cc.StopNode(ctxT(t), &consolev1.StopNodeRequest{NodeId: "n2"}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); c.View().GetNodes()[1].GetRole() != "down"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("n2 not down 5 s after it was asked to stop itself")
		}
	}
}

// Without ConsoleControls the controls are refused; without Console the
// service is not there; with a token it is behind it; bad input names
// the field.
func TestConsoleGuards(t *testing.T) {
	ctx := ctxT(t)
	c, _ := startTest(t, Config{Shards: 8, Console: true, Token: "tok"})
	bare := consoleClient(t, c.Addr("n1"))
	_, err := bare.ListNamespaces(ctx, &consolev1.ListNamespacesRequest{})
	wantCode(t, err, connect.CodeUnauthenticated)
	s, err := bare.Watch(ctx, &consolev1.WatchRequest{})
	if err == nil {
		for s.Receive() {
			t.Fatal("a stream without the token got a message")
		}
		err = s.Err()
		s.Close()
	}
	wantCode(t, err, connect.CodeUnauthenticated)

	authed := consoleClient(t, c.Addr("n1"), connect.WithInterceptors(bearer("tok")))
	_, err = authed.StopNode(ctx, &consolev1.StopNodeRequest{NodeId: "n2"})
	wantCode(t, err, connect.CodePermissionDenied, "--no-faults")
	_, err = authed.SetLoad(ctx, &consolev1.SetLoadRequest{Running: true})
	wantCode(t, err, connect.CodePermissionDenied)
	_, err = authed.SetNodeDelay(ctx, &consolev1.SetNodeDelayRequest{NodeId: "n1", DelayMs: 20_000})
	wantCode(t, err, connect.CodeInvalidArgument, "delay_ms")
	if c.View().GetNodes()[1].GetRole() == "down" {
		t.Fatal("a refused StopNode stopped n2")
	}

	c2, _ := startTest(t, Config{Shards: 8, Console: true, ConsoleControls: true})
	_, err = consoleClient(t, c2.Addr("n1")).StopNode(ctx, &consolev1.StopNodeRequest{NodeId: "n9"})
	wantCode(t, err, connect.CodeInvalidArgument, "node_id", "n9")

	off, _ := startTest(t, Config{Shards: 8})
	_, err = consoleClient(t, off.Addr("n1")).ListNamespaces(ctx, &consolev1.ListNamespacesRequest{})
	wantCode(t, err, connect.CodeUnimplemented)
}

func TestBucketQuantile(t *testing.T) {
	var h [len(latencyBuckets) + 1]uint64
	if q := bucketQuantile(&h, 0.99); q != 0 {
		t.Fatalf("empty: %v", q)
	}
	h[0] = 98 // ≤ 0.1 ms
	h[9] = 2  // (50, 100] ms
	if q := bucketQuantile(&h, 0.5); q <= 0 || q > 0.1 {
		t.Errorf("p50 %v ms, want within (0, 0.1]", q)
	}
	if q := bucketQuantile(&h, 0.99); q < 50 || q > 100 {
		t.Errorf("p99 %v ms, want within [50, 100]", q)
	}
	h[len(h)-1] = 1000 // beyond the last bound
	if q := bucketQuantile(&h, 0.99); q != latencyBuckets[len(latencyBuckets)-1]*1000 {
		t.Errorf("p99 in +Inf: %v ms", q)
	}
}

// DelayCalls waits, then hands the call on; a ctx that ends first fails
// the call.
func TestDelayCalls(t *testing.T) {
	var nextRan bool
	hook := DelayCalls(func(node, _ string) time.Duration {
		if node == "n2" {
			return time.Hour
		}
		return time.Millisecond
	}, func(context.Context, string, string, any) error { nextRan = true; return nil })
	if err := hook(context.Background(), "n1", "/x/Y", nil); err != nil || !nextRan {
		t.Fatalf("n1: %v, next ran %v", err, nextRan)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := hook(ctx, "n2", "/x/Y", nil); connect.CodeOf(err) != connect.CodeDeadlineExceeded {
		t.Fatalf("n2 with a 10 ms ctx: %v, want deadline_exceeded", err)
	}
}
