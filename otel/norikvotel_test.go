package norikvotel_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/norikvtest"
	norikvotel "github.com/norikv/norikv-go/otel"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// harness is an instrumented client of a real cluster, with an in-memory
// span recorder and a manual metric reader.
type harness struct {
	t      *testing.T
	cl     *norikvtest.Cluster
	c      *norikv.Client
	spans  *tracetest.SpanRecorder
	reader *sdkmetric.ManualReader
	// traceparents are the traceparent headers the attempts carried.
	mu           sync.Mutex
	traceparents []string
}

func newHarness(t *testing.T, cfg norikv.Config, opts ...norikvotel.Option) *harness {
	t.Helper()
	h := &harness{t: t, cl: norikvtest.Start(t, norikvtest.WithShards(8)), spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader()}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(h.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(h.reader))
	t.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	cfg.Nodes = h.cl.Addrs()
	cfg.TotalShards = h.cl.Shards()
	cfg.Interceptors = append([]connect.Interceptor{connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			h.mu.Lock()
			h.traceparents = append(h.traceparents, req.Header().Get("traceparent"))
			h.mu.Unlock()
			return next(ctx, req)
		}
	})}, cfg.Interceptors...)
	opts = append([]norikvotel.Option{
		norikvotel.WithTracerProvider(tp),
		norikvotel.WithMeterProvider(mp),
		norikvotel.WithPropagators(propagation.TraceContext{}),
	}, opts...)
	if err := norikvotel.Instrument(&cfg, opts...); err != nil {
		t.Fatal(err)
	}
	c, err := norikv.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	h.c = c
	return h
}

// call returns the one call span named name and its attempt spans, in
// order, checking they are its children in the same trace.
func (h *harness) call(name string) (sdktrace.ReadOnlySpan, []sdktrace.ReadOnlySpan) {
	h.t.Helper()
	var call sdktrace.ReadOnlySpan
	ended := h.spans.Ended()
	for _, s := range ended {
		if s.Name() == name {
			call = s // the last one: earlier calls may have the same name
		}
	}
	if call == nil {
		h.t.Fatalf("no span %q among %d", name, len(ended))
	}
	if call.SpanKind() != trace.SpanKindInternal {
		h.t.Errorf("%s kind %v", name, call.SpanKind())
	}
	var attempts []sdktrace.ReadOnlySpan
	for _, s := range ended {
		if s.Parent().SpanID() == call.SpanContext().SpanID() {
			if s.SpanContext().TraceID() != call.SpanContext().TraceID() || s.SpanKind() != trace.SpanKindClient {
				h.t.Errorf("attempt span %s: trace %v kind %v", s.Name(), s.SpanContext().TraceID(), s.SpanKind())
			}
			attempts = append(attempts, s)
		}
	}
	return call, attempts
}

func attr(s sdktrace.ReadOnlySpan, key string) (attribute.Value, bool) {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value, true
		}
	}
	return attribute.Value{}, false
}

// wantAttrs checks s has each attribute with the value (compared as
// strings: Value.String).
func wantAttrs(t *testing.T, s sdktrace.ReadOnlySpan, want map[string]any) {
	t.Helper()
	for k, v := range want {
		got, ok := attr(s, k)
		if !ok {
			t.Errorf("span %s: no attribute %s", s.Name(), k)
			continue
		}
		if w := attribute.StringValue(toString(v)); got.String() != w.String() {
			t.Errorf("span %s: %s = %s, want %v", s.Name(), k, got.String(), v)
		}
	}
}

func toString(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case int:
		return attribute.IntValue(v).String()
	case bool:
		return attribute.BoolValue(v).String()
	}
	panic("type")
}

// metric returns the sum of the data points of the named instrument whose
// attributes include every one of match (histograms: the count).
func (h *harness) metric(name string, match ...attribute.KeyValue) (int64, bool) {
	h.t.Helper()
	var rm metricdata.ResourceMetrics
	if err := h.reader.Collect(context.Background(), &rm); err != nil {
		h.t.Fatal(err)
	}
	var total int64
	found := false
	has := func(set attribute.Set) bool {
		for _, kv := range match {
			if v, ok := set.Value(kv.Key); !ok || v.String() != kv.Value.String() {
				return false
			}
		}
		return true
	}
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			if m.Name != name {
				continue
			}
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					if has(p.Attributes) {
						total += p.Value
						found = true
					}
				}
			case metricdata.Gauge[int64]:
				for _, p := range d.DataPoints {
					if has(p.Attributes) {
						total += p.Value
						found = true
					}
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					if has(p.Attributes) {
						total += int64(p.Count)
						found = true
					}
				}
			}
		}
	}
	return total, found
}

func (h *harness) wantMetric(name string, want int64, match ...attribute.KeyValue) {
	h.t.Helper()
	if got, _ := h.metric(name, match...); got != want {
		h.t.Errorf("%s%v = %d, want %d", name, match, got, want)
	}
}

var (
	opPut = attribute.String("db.operation.name", "Put")
	opGet = attribute.String("db.operation.name", "Get")
)

func TestPlainPut(t *testing.T) {
	h := newHarness(t, norikv.Config{}, norikvotel.WithKeyAttribute())
	ctx := context.Background()
	if err := h.c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("k", 100)
	if _, err := h.c.Put(ctx, key, []byte("secret-value")); err != nil {
		t.Fatal(err)
	}
	shard := int(h.cl.ShardOf([]byte(key)))
	call, attempts := h.call("norikv.Put")
	wantAttrs(t, call, map[string]any{
		"db.system.name": "norikv", "db.operation.name": "Put", "norikv.shard": shard,
		"norikv.attempts": 1, "norikv.retries": 0, "norikv.redirects": 0, "norikv.code": "ok",
		"norikv.idempotency_key.stamped": true, "norikv.key": strings.Repeat("k", 64),
	})
	if call.Status().Code != codes.Unset {
		t.Errorf("call status %v", call.Status())
	}
	for _, kv := range call.Attributes() {
		if strings.Contains(kv.Value.String(), "secret-value") {
			t.Errorf("value bytes in attribute %s", kv.Key)
		}
	}
	if len(attempts) != 1 {
		t.Fatalf("%d attempt spans, want 1", len(attempts))
	}
	a := attempts[0]
	if a.Name() != "norikv.v1.Kv/Put" {
		t.Errorf("attempt span name %q", a.Name())
	}
	leader := h.cl.Addr(h.cl.Leader(uint32(shard)))
	wantAttrs(t, a, map[string]any{
		"rpc.system": "grpc", "rpc.service": "norikv.v1.Kv", "rpc.method": "Put",
		"norikv.node": leader, "norikv.attempt": 1, "norikv.attempt.reason": "first", "norikv.code": "ok",
	})
	// The trace context went to the server in the attempt's headers.
	h.mu.Lock()
	tps := h.traceparents
	h.mu.Unlock()
	sc := a.SpanContext()
	if want := "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"; len(tps) != 1 || tps[0] != want {
		t.Errorf("traceparent sent %q, want %q", tps, want)
	}

	h.wantMetric("db.client.operation.duration", 1, opPut, attribute.String("norikv.code", "ok"))
	h.wantMetric("rpc.client.duration", 1, attribute.String("rpc.method", "Put"), attribute.String("server.address", leader))
	h.wantMetric("norikv.client.attempts", 1, opPut, attribute.String("norikv.attempt.reason", "first"))
	h.wantMetric("norikv.client.idempotency_keys.stamped", 1, opPut)
	h.wantMetric("norikv.client.retries", 0)
	h.wantMetric("norikv.client.redirects", 0)
	if n, _ := h.metric("norikv.client.connections"); n < 1 {
		t.Errorf("norikv.client.connections = %d, want at least 1", n)
	}
	// The epoch gauge is fed by the topology subscriber, on its own
	// goroutine: wait for it.
	want := int64(h.cl.View().GetEpoch())
	for deadline := time.Now().Add(5 * time.Second); ; {
		if n, ok := h.metric("norikv.client.topology.epoch"); ok && n == want {
			break
		}
		if time.Now().After(deadline) {
			n, _ := h.metric("norikv.client.topology.epoch")
			t.Fatalf("norikv.client.topology.epoch = %d, want %d", n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPutRedirect(t *testing.T) {
	// No watch: the client learns the leader's move from NOT_LEADER only.
	h := newHarness(t, norikv.Config{DisableWatch: true})
	ctx := context.Background()
	if err := h.c.Connect(ctx); err != nil { // one view, then no watch: stale after the transfer
		t.Fatal(err)
	}
	const key = "user:1"
	if _, err := h.c.Put(ctx, key, []byte("a")); err != nil {
		t.Fatal(err)
	}
	shard := h.cl.ShardOf([]byte(key))
	old := h.cl.Leader(shard)
	next := h.cl.NodeIDs()[0]
	if next == old {
		next = h.cl.NodeIDs()[1]
	}
	if err := h.cl.TransferLeader(shard, next); err != nil {
		t.Fatal(err)
	}
	// The first Put may have been redirected already (it went to a seed).
	redirectsBefore, _ := h.metric("norikv.client.redirects")
	redirectAttemptsBefore, _ := h.metric("norikv.client.attempts", opPut, attribute.String("norikv.attempt.reason", "redirect"))
	if _, err := h.c.Put(ctx, key, []byte("b")); err != nil {
		t.Fatal(err)
	}
	call, attempts := h.call("norikv.Put")
	wantAttrs(t, call, map[string]any{"norikv.attempts": 2, "norikv.redirects": 1, "norikv.retries": 0, "norikv.code": "ok", "norikv.shard": int(shard)})
	if call.Status().Code != codes.Unset {
		t.Errorf("call status %v", call.Status())
	}
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(attempts))
	}
	wantAttrs(t, attempts[0], map[string]any{"norikv.node": h.cl.Addr(old), "norikv.attempt": 1, "norikv.code": "unavailable", "norikv.not_leader": true})
	if attempts[0].Status().Code != codes.Error || !strings.Contains(attempts[0].Status().Description, "NOT_LEADER") {
		t.Errorf("attempt 1 status %v", attempts[0].Status())
	}
	wantAttrs(t, attempts[1], map[string]any{"norikv.node": h.cl.Addr(next), "norikv.attempt": 2, "norikv.attempt.reason": "redirect", "norikv.code": "ok"})
	if n, _ := h.metric("norikv.client.redirects", opPut); n-redirectsBefore != 1 {
		t.Errorf("norikv.client.redirects grew by %d, want 1", n-redirectsBefore)
	}
	if n, _ := h.metric("norikv.client.attempts", opPut, attribute.String("norikv.attempt.reason", "redirect")); n-redirectAttemptsBefore != 1 {
		t.Errorf("redirect attempts grew by %d, want 1", n-redirectAttemptsBefore)
	}
	h.wantMetric("rpc.client.duration", 1, attribute.String("server.address", h.cl.Addr(old)), attribute.String("norikv.code", "unavailable"))
}

// failGet fails the first n Get attempts with UNAVAILABLE (n < 0: all),
// before they reach the network.
func failGet(n int) connect.Interceptor {
	var mu sync.Mutex
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			if req.Spec().Procedure == norikvv1connect.KvGetProcedure {
				mu.Lock()
				fail := n != 0
				if n > 0 {
					n--
				}
				mu.Unlock()
				if fail {
					return nil, connect.NewError(connect.CodeUnavailable, errInjected)
				}
			}
			return next(ctx, req)
		}
	})
}

var errInjected = connectErr("injected fault")

type connectErr string

func (e connectErr) Error() string { return string(e) }

var fastRetry = norikv.RetryConfig{InitialDelay: time.Millisecond, MaxDelay: time.Millisecond, Jitter: -1}

func TestGetRetriedAfterUnavailable(t *testing.T) {
	h := newHarness(t, norikv.Config{DisableWatch: true, Retry: fastRetry, Interceptors: []connect.Interceptor{failGet(1)}})
	ctx := context.Background()
	if err := h.c.Connect(ctx); err != nil { // leaders known: no redirect
		t.Fatal(err)
	}
	if _, err := h.c.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	res, err := h.c.Get(ctx, "k", norikv.WithConsistency(norikv.ConsistencyLinearizable))
	if err != nil || string(res.Value) != "v" {
		t.Fatalf("Get = %v, %v", res, err)
	}
	call, attempts := h.call("norikv.Get")
	wantAttrs(t, call, map[string]any{"norikv.attempts": 2, "norikv.retries": 1, "norikv.redirects": 0, "norikv.code": "ok", "norikv.consistency": "strong"})
	if _, ok := attr(call, "norikv.idempotency_key.stamped"); ok {
		t.Error("a Get reports a stamped idempotency key")
	}
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(attempts))
	}
	wantAttrs(t, attempts[0], map[string]any{"norikv.attempt.reason": "first", "norikv.code": "unavailable", "error.type": "unavailable"})
	if attempts[0].Status().Code != codes.Error {
		t.Errorf("attempt 1 status %v", attempts[0].Status())
	}
	wantAttrs(t, attempts[1], map[string]any{"norikv.attempt.reason": "retry", "norikv.attempt": 2, "norikv.code": "ok"})
	if !attempts[1].StartTime().After(attempts[0].EndTime()) && !attempts[1].StartTime().Equal(attempts[0].EndTime()) {
		t.Error("the retry started before the first attempt ended")
	}
	h.wantMetric("norikv.client.retries", 1, opGet)
	h.wantMetric("norikv.client.attempts", 2, opGet)
	h.wantMetric("db.client.operation.duration", 1, opGet, attribute.String("norikv.code", "ok"))
	h.wantMetric("norikv.client.retry_budget.rejections", 0)
}

func TestRetryBudgetRejection(t *testing.T) {
	// One retry in the bucket, earning next to nothing per call: the
	// second retry is refused.
	retry := fastRetry
	retry.BudgetFloor, retry.BudgetRatio = 1, 0.001
	h := newHarness(t, norikv.Config{DisableWatch: true, Retry: retry, Interceptors: []connect.Interceptor{failGet(-1)}})
	_, err := h.c.Get(context.Background(), "k")
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("Get err = %v, want UNAVAILABLE", err)
	}
	call, attempts := h.call("norikv.Get")
	wantAttrs(t, call, map[string]any{"norikv.attempts": 2, "norikv.retries": 1, "norikv.code": "unavailable", "error.type": "unavailable", "norikv.retry_budget.rejected": true})
	if call.Status().Code != codes.Error || !strings.Contains(call.Status().Description, "injected fault") {
		t.Errorf("call status %v", call.Status())
	}
	if len(attempts) != 2 {
		t.Fatalf("%d attempt spans, want 2", len(attempts))
	}
	h.wantMetric("norikv.client.retry_budget.rejections", 1, opGet)
	h.wantMetric("db.client.operation.duration", 1, opGet, attribute.String("norikv.code", "unavailable"), attribute.String("db.system.name", "norikv"))
	h.wantMetric("db.client.operation.duration", 0, opGet, attribute.String("norikv.code", "ok"))
}

func TestInstrumentRefusesSecondObserver(t *testing.T) {
	cfg := norikv.Config{Nodes: []string{"127.0.0.1:1"}, Observer: norikv.BaseObserver{}}
	if err := norikvotel.Instrument(&cfg); err == nil || !strings.Contains(err.Error(), "Config.Observer") {
		t.Fatalf("Instrument = %v", err)
	}
}
