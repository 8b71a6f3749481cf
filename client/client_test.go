package norikv

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/wire"
	"github.com/norikv/norikv-go/norikvtest"
	"github.com/norikv/norikv-go/server"
)

func newClient(t *testing.T, c *norikvtest.Cluster, mod func(*Config)) *Client {
	t.Helper()
	cfg := Config{Nodes: c.Addrs(), TotalShards: c.Shards(), Timeout: 10 * time.Second}
	if mod != nil {
		mod(&cfg)
	}
	cl, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func TestNewValidatesConfig(t *testing.T) {
	bad := []Config{
		{},
		{Nodes: []string{"a:1"}, TotalShards: -1},
		{Nodes: []string{"nohostport"}, TotalShards: 1},
		{Nodes: []string{"ftp://a:1"}, TotalShards: 1},
		{Nodes: []string{"a:1"}, TotalShards: 1, Protocol: ProtocolGRPC, HTTPVersion: HTTP1},
		{Nodes: []string{"a:1"}, TotalShards: 1, Protocol: 7},
	}
	for i, cfg := range bad {
		_, err := New(cfg)
		var e *Error
		if !errors.As(err, &e) || e.Code != connect.CodeInvalidArgument || !strings.Contains(e.Message, "Config.") {
			t.Errorf("config %d: err = %v, want an InvalidArgument *Error naming the field", i, err)
		}
	}
	good := []string{"a:1", "http://a:1", "https://a:1/"}
	for _, n := range good {
		c, err := New(Config{Nodes: []string{n}, TotalShards: 1})
		if err != nil {
			t.Errorf("%s: %v", n, err)
			continue
		}
		c.Close()
	}
}

type protoCase struct {
	name string
	mod  func(*Config)
}

var protocols = []protoCase{
	{"grpc", func(c *Config) { c.Protocol = ProtocolGRPC }},
	{"grpc-json", func(c *Config) { c.Protocol = ProtocolGRPC; c.JSON = true }},
	{"connect-h1", func(c *Config) { c.Protocol = ProtocolConnect; c.HTTPVersion = HTTP1 }},
	{"connect-h2-json", func(c *Config) { c.Protocol = ProtocolConnect; c.HTTPVersion = HTTP2; c.JSON = true }},
	{"grpcweb-h1", func(c *Config) { c.Protocol = ProtocolGRPCWeb }},
	{"grpcweb-h2", func(c *Config) { c.Protocol = ProtocolGRPCWeb; c.HTTPVersion = HTTP2 }},
}

func TestKVAllProtocols(t *testing.T) {
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			fc := startServer(t, 3, 16)
			mustDo(t, fc.LeadAll("n2"))
			cl := newClient(t, fc, p.mod)
			ctx := context.Background()
			v, err := cl.Put(ctx, "user:1", []byte("alice"), WithTTL(time.Minute))
			if err != nil {
				t.Fatal(err)
			}
			got, err := cl.Get(ctx, "user:1")
			if err != nil || string(got.Value) != "alice" || got.Version != v {
				t.Fatalf("Get = %+v, %v; want alice@%v", got, err, v)
			}
			if _, err := cl.Put(ctx, "user:1", []byte("bob"), IfMatch(Version{Term: 9, Index: 9})); !errors.Is(err, ErrVersionMismatch) {
				t.Fatalf("CAS err = %v", err)
			}
			if err := cl.Delete(ctx, "user:1"); err != nil {
				t.Fatal(err)
			}
			if _, err := cl.Get(ctx, "user:1"); !errors.Is(err, ErrKeyNotFound) {
				t.Fatalf("Get after delete err = %v", err)
			}
		})
	}
}

func TestRoutesToLeaderFromView(t *testing.T) {
	fc := startServer(t, 3, 16)
	mustDo(t, fc.LeadAll("n3"))
	cl := newClient(t, fc, nil)
	if err := cl.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		if _, err := cl.Put(context.Background(), "k"+string(rune('a'+i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if a, b, c := fc.Calls("n1"), fc.Calls("n2"), fc.Calls("n3"); a != 0 || b != 0 || c != 20 {
		t.Fatalf("calls per node = %d %d %d, want 0 0 20", a, b, c)
	}
	if s := cl.Stats(); s.Topology.CachedLeaders != 16 || s.Router.TotalNodes != 3 || s.Requests.Redirects != 0 {
		t.Fatalf("stats = %+v", s)
	}
}

func TestNotLeaderRedirectsWithoutBackoff(t *testing.T) {
	fc := startServer(t, 3, 16)
	mustDo(t, fc.LeadAll("n3"))
	// Backoff so long that any backoff would blow the deadline.
	// Without a view the hint is trusted because it names a seed; the
	// first attempt goes to the second seed (round-robin), not the leader.
	cl := newClient(t, fc, func(c *Config) {
		c.DisableWatch = true
		c.Retry = RetryConfig{InitialDelay: time.Hour}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := cl.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	s := cl.Stats()
	if s.Requests.Redirects != 1 || s.Requests.Retries != 0 {
		t.Fatalf("redirects %d retries %d, want 1 0", s.Requests.Redirects, s.Requests.Retries)
	}
	// The leader is cached: the next call goes straight there.
	before := fc.Calls("n1")
	if _, err := cl.Put(ctx, "k", []byte("v2")); err != nil {
		t.Fatal(err)
	}
	if fc.Calls("n1") != before || cl.Stats().Requests.Redirects != 1 {
		t.Fatal("second call did not use the cached leader")
	}
}

func TestRedirectsAreBounded(t *testing.T) {
	fc := startServer(t, 2, 4)
	// Every node claims the other leads: a redirect loop.
	fc.SetFaults(func(_ context.Context, node string, _ string, _ any) error {
		o := map[string]string{"n1": "n2", "n2": "n1"}[node]
		return wireNotLeader(o, fc.Addr(o))
	})
	cl := newClient(t, fc, func(c *Config) {
		c.DisableWatch = true
		c.Retry = RetryConfig{MaxAttempts: 1}
	})
	_, err := cl.Put(context.Background(), "k", []byte("v"))
	var e *Error
	if !errors.As(err, &e) || e.Code != connect.CodeUnavailable {
		t.Fatalf("err = %v, want *Error Unavailable", err)
	}
	if n := fc.Calls("n1") + fc.Calls("n2"); n != 4 {
		t.Fatalf("attempts = %d, want 1 + 3 redirects", n)
	}
}

func TestRetriesTransientWithSameIdempotencyKey(t *testing.T) {
	fc := startServer(t, 1, 4)
	var mu sync.Mutex
	var keys []string
	fails := 2
	fc.SetFaults(func(_ context.Context, _ string, proc string, msg any) error {
		mu.Lock()
		defer mu.Unlock()
		if proc != norikvv1connect.KvPutProcedure {
			return nil
		}
		keys = append(keys, msg.(*v1.PutRequest).IdempotencyKey)
		if fails > 0 {
			fails--
			return connect.NewError(connect.CodeUnavailable, errors.New("try later"))
		}
		return nil
	})
	cl := newClient(t, fc, func(c *Config) { c.Retry = RetryConfig{InitialDelay: time.Millisecond, Jitter: -1} })
	// The view announces client sessions: writes get session keys.
	if err := cl.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Fatalf("idempotency keys per attempt = %q", keys)
	}
	if k, ok := wire.ParseSessionKey(keys[0]); !ok || k.Seq != 1 {
		t.Fatalf("key %q is not the session's first", keys[0])
	}
	if s := cl.Stats(); s.Requests.Retries != 2 {
		t.Fatalf("retries = %d", s.Requests.Retries)
	}
}

func TestUserIdempotencyKeyKept(t *testing.T) {
	fc := startServer(t, 1, 4)
	cl := newClient(t, fc, nil)
	ctx := context.Background()
	first, err := cl.Put(ctx, "k", []byte("a"), WithIdempotencyKey("order-1"))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := cl.Put(ctx, "k", []byte("a"), WithIdempotencyKey("order-1"))
	if err != nil || first != v2 {
		t.Fatalf("idempotent put: %v %v %v", first, v2, err)
	}
}

func TestNoRetryOnPermanentCodes(t *testing.T) {
	codes := []connect.Code{
		connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeFailedPrecondition,
		connect.CodeAlreadyExists, connect.CodeUnauthenticated, connect.CodePermissionDenied,
	}
	for _, code := range codes {
		t.Run(code.String(), func(t *testing.T) {
			fc := startServer(t, 1, 4)
			fc.SetFaults(func(context.Context, string, string, any) error { return connect.NewError(code, errors.New("no")) })
			cl := newClient(t, fc, func(c *Config) { c.Retry = RetryConfig{InitialDelay: time.Millisecond} })
			_, err := cl.Put(context.Background(), "k", []byte("v"))
			var e *Error
			if !errors.As(err, &e) || e.Code != code {
				t.Fatalf("err = %v", err)
			}
			if n := fc.Calls("n1"); n != 1 {
				t.Fatalf("attempts = %d, want 1", n)
			}
		})
	}
}

func TestRetryableCodesUpToMaxAttempts(t *testing.T) {
	for _, code := range []connect.Code{connect.CodeUnavailable, connect.CodeAborted, connect.CodeResourceExhausted} {
		t.Run(code.String(), func(t *testing.T) {
			fc := startServer(t, 1, 4)
			fc.SetFaults(func(context.Context, string, string, any) error { return connect.NewError(code, errors.New("busy")) })
			cl := newClient(t, fc, func(c *Config) {
				c.Retry = RetryConfig{MaxAttempts: 4, InitialDelay: time.Millisecond, Jitter: -1}
			})
			_, err := cl.Get(context.Background(), "k")
			var e *Error
			if !errors.As(err, &e) || e.Code != code || e.Operation != "Get" || e.Key != "k" {
				t.Fatalf("err = %#v", err)
			}
			if n := fc.Calls("n1"); n != 4 {
				t.Fatalf("attempts = %d, want 4", n)
			}
		})
	}
}

func TestAttemptTimeoutIsRetried(t *testing.T) {
	fc := startServer(t, 1, 4)
	cl := newClient(t, fc, func(c *Config) {
		c.Retry = RetryConfig{AttemptTimeout: 100 * time.Millisecond, InitialDelay: time.Millisecond}
	})
	if err := cl.Connect(context.Background()); err != nil { // sessions: the write is keyed
		t.Fatal(err)
	}
	var n atomic.Int32
	fc.SetFaults(func(context.Context, string, string, any) error {
		if n.Add(1) == 1 {
			time.Sleep(300 * time.Millisecond)
		}
		return nil
	})
	if _, err := cl.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if cl.Stats().Requests.Retries != 1 {
		t.Fatalf("retries = %d", cl.Stats().Requests.Retries)
	}
}

func TestRetryBudgetCapsRetries(t *testing.T) {
	fc := startServer(t, 1, 4)
	fc.SetFaults(func(context.Context, string, string, any) error {
		return connect.NewError(connect.CodeUnavailable, errors.New("down"))
	})
	cl := newClient(t, fc, func(c *Config) {
		c.Retry = RetryConfig{MaxAttempts: 5, InitialDelay: time.Millisecond, Jitter: -1, BudgetFloor: 3, BudgetRatio: 0.1}
	})
	for range 20 {
		_, _ = cl.Get(context.Background(), "k")
	}
	// 3 floor tokens + 20 requests × 0.1 = 5 retries at most (vs 80 without a budget).
	s := cl.Stats()
	if s.Requests.Retries > 5 || s.Requests.Retries < 3 || s.Requests.BudgetExhausted == 0 {
		t.Fatalf("retries %d, exhausted %d", s.Requests.Retries, s.Requests.BudgetExhausted)
	}
	if n := fc.Calls("n1"); n != 20+int64(s.Requests.Retries) {
		t.Fatalf("server saw %d attempts", n)
	}
}

func TestCancelDuringBackoffReturnsPromptly(t *testing.T) {
	fc := startServer(t, 1, 4)
	cl := newClient(t, fc, func(c *Config) { c.Retry = RetryConfig{InitialDelay: time.Minute} })
	if err := cl.Connect(context.Background()); err != nil { // a keyed write is retried
		t.Fatal(err)
	}
	fc.SetFaults(func(context.Context, string, string, any) error {
		return connect.NewError(connect.CodeUnavailable, errors.New("down"))
	})
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := cl.Put(ctx, "k", []byte("v"))
	el := time.Since(start)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	var e *Error
	if !errors.As(err, &e) || e.Code != connect.CodeCanceled {
		t.Fatalf("err = %#v, want *Error Canceled", err)
	}
	if el > time.Second {
		t.Fatalf("cancel took %v", el)
	}
	t.Logf("returned %v after the call started (cancel at 50ms)", el)
}

func TestConfigTimeoutBoundsCall(t *testing.T) {
	fc := startServer(t, 1, 4)
	fc.SetFaults(func(context.Context, string, string, any) error {
		return connect.NewError(connect.CodeUnavailable, errors.New("down"))
	})
	cl := newClient(t, fc, func(c *Config) {
		c.Timeout = 100 * time.Millisecond
		c.Retry = RetryConfig{InitialDelay: time.Minute}
	})
	start := time.Now()
	_, err := cl.Get(context.Background(), "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %v", el)
	}
}

// The call's deadline bounds its first attempt too when that attempt has
// no bound of its own (the retry interceptor folds the two deadlines into
// one timer until an attempt fails): a hung node costs Timeout, not more.
func TestConfigTimeoutBoundsHungFirstAttempt(t *testing.T) {
	fc := startServer(t, 1, 4)
	fc.SetFaults(func(ctx context.Context, _, _ string, _ any) error {
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
		}
		return ctx.Err()
	})
	cl := newClient(t, fc, func(c *Config) {
		c.Timeout = 200 * time.Millisecond
		c.Retry = RetryConfig{AttemptTimeout: -1}
	})
	start := time.Now()
	_, err := cl.Get(context.Background(), "k")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
	if el := time.Since(start); el > 5*time.Second {
		t.Fatalf("took %v; the 200ms call timeout did not bound the attempt", el)
	}
	if r := cl.Stats().Requests.Retries; r != 0 {
		t.Fatalf("retries = %d after the call's deadline", r)
	}
}

func TestValidationFailsWithoutRoundTrip(t *testing.T) {
	fc := startServer(t, 1, 4)
	cl := newClient(t, fc, func(c *Config) { c.DisableWatch = true })
	ctx := context.Background()
	cases := map[string]func() error{
		"empty key": func() error { _, err := cl.Put(ctx, "", []byte("v")); return err },
		"2KiB key":  func() error { _, err := cl.Get(ctx, strings.Repeat("k", 2048)); return err },
		"namespace": func() error { _, err := cl.VectorInsert(ctx, "", "id", []float32{1}); return err },
		"dims":      func() error { _, err := cl.VectorCreateIndex(ctx, "ns", -1, DistanceCosine, IndexHNSW); return err },
		"distance":  func() error { _, err := cl.VectorCreateIndex(ctx, "ns", 3, 0, IndexHNSW); return err },
	}
	fields := map[string]string{"empty key": "key", "2KiB key": "key", "namespace": "namespace", "dims": "dimensions", "distance": "distance"}
	for name, f := range cases {
		err := f()
		var e *Error
		if !errors.As(err, &e) || e.Code != connect.CodeInvalidArgument || !strings.Contains(e.Message, fields[name]) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
	if n := fc.Calls("n1"); n != 0 {
		t.Fatalf("server saw %d calls", n)
	}
	if cl.Stats().Pool.Dialed != 0 {
		t.Fatal("validation failures dialed")
	}
}

func TestErrorMapping(t *testing.T) {
	fc := startServer(t, 1, 4)
	cl := newClient(t, fc, nil)
	ctx := context.Background()

	if _, err := cl.Get(ctx, "missing"); !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("OK without version: %v", err)
	}
	fc.SetDefects(server.Defects{MissingKeyNotFound: true})
	_, err := cl.Get(ctx, "missing")
	if !errors.Is(err, ErrKeyNotFound) {
		t.Fatalf("NOT_FOUND: %v", err)
	}
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeNotFound {
		t.Fatalf("connect error not wrapped: %v", err)
	}

	fc.SetFaults(func(context.Context, string, string, any) error {
		return connect.NewError(connect.CodeAlreadyExists, errors.New("exists"))
	})
	if _, err := cl.Put(ctx, "k", nil); !errors.Is(err, ErrAlreadyExists) {
		t.Fatalf("ALREADY_EXISTS: %v", err)
	}
	fc.SetFaults(nil)
	if _, err := cl.VectorInsert(ctx, "nope", "id", []float32{1}); !errors.Is(err, ErrIndexNotFound) {
		t.Fatalf("vector NOT_FOUND: %v", err)
	}
}

func TestConnectionErrors(t *testing.T) {
	fc := startServer(t, 1, 4)
	addr := fc.Addr("n1")
	mustDo(t, fc.StopNode("n1"))
	cl, err := New(Config{Nodes: []string{addr}, TotalShards: 4, Retry: RetryConfig{MaxAttempts: 2, InitialDelay: time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	_, err = cl.Put(context.Background(), "k", []byte("v"))
	var connErr *ConnectionError
	var e *Error
	if !errors.As(err, &connErr) || !errors.As(err, &e) || e.Code != connect.CodeUnavailable {
		t.Fatalf("err = %v", err)
	}
	if cl.Stats().Requests.Retries != 1 {
		t.Fatalf("connection failure not retried: %+v", cl.Stats().Requests)
	}
	if cl.Stats().Pool.DialFailures == 0 {
		t.Fatal("dial failures not counted")
	}
}

func TestClosedClient(t *testing.T) {
	fc := startServer(t, 1, 4)
	cl := newClient(t, fc, nil)
	if _, err := cl.Put(context.Background(), "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := cl.Get(context.Background(), "k"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, _, err := cl.VectorGet(context.Background(), "ns", "id"); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := cl.Connect(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Connect after Close: %v", err)
	}
}

func TestNoMetaServerFallsBackToSeeds(t *testing.T) {
	fc := startServer(t, 3, 8)
	fc.SetDefects(server.Defects{NoMeta: true})
	mustDo(t, fc.LeadAll("n2"))
	cl := newClient(t, fc, nil)
	if err := cl.Connect(context.Background()); err != nil {
		t.Fatalf("Connect against a server without Meta: %v", err)
	}
	if cl.ClusterView() != nil {
		t.Fatal("view without Meta")
	}
	for i := range 10 {
		if _, err := cl.Put(context.Background(), string(rune('a'+i)), []byte("v")); err != nil {
			t.Fatal(err)
		}
	}
	if cl.Stats().Topology.CachedLeaders == 0 {
		t.Fatal("leaders not learned from hints")
	}
}

// With RoundRobin, stale reads spread evenly; by default they prefer the
// fastest replicas (TestSlowReplicaAvoided).
func TestStaleReadsSpreadOverReplicas(t *testing.T) {
	fc := startServer(t, 3, 4)
	cl := newClient(t, fc, func(c *Config) { c.StaleReads.RoundRobin = true })
	ctx := context.Background()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	for range 30 {
		if _, err := cl.Get(ctx, "k", WithConsistency(ConsistencyStaleOK)); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range fc.NodeIDs() {
		if fc.Calls(id) < 5 {
			t.Fatalf("node %s served %d stale reads", id, fc.Calls(id))
		}
	}
	if cl.Stats().Requests.Redirects != 0 {
		t.Fatal("stale reads were redirected")
	}
}

func TestStatsCountConnections(t *testing.T) {
	fc := startServer(t, 1, 4)
	cl := newClient(t, fc, func(c *Config) { c.DisableWatch = true; c.Protocol = ProtocolConnect; c.HTTPVersion = HTTP1 })
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			_, _ = cl.Put(context.Background(), string(rune('a'+i)), []byte("v"))
		})
	}
	wg.Wait()
	s := cl.Stats()
	if s.Pool.ActiveConnections < 1 || uint64(s.Pool.ActiveConnections) != s.Pool.Dialed {
		t.Fatalf("pool = %+v", s.Pool)
	}
	cl.Close()
	deadline := time.Now().Add(5 * time.Second)
	for cl.Stats().Pool.ActiveConnections != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := cl.Stats().Pool.ActiveConnections; n != 0 {
		t.Fatalf("%d connections open after Close", n)
	}
}

func TestVectorOps(t *testing.T) {
	fc := startServer(t, 2, 8)
	mustDo(t, fc.LeadAll("n2"))
	cl := newClient(t, fc, nil)
	ctx := context.Background()
	created, err := cl.VectorCreateIndex(ctx, "emb", 2, DistanceEuclidean, IndexBruteForce)
	if err != nil || !created {
		t.Fatal(created, err)
	}
	if created, _ := cl.VectorCreateIndex(ctx, "emb", 2, DistanceEuclidean, IndexBruteForce); created {
		t.Fatal("created twice")
	}
	for id, v := range map[string][]float32{"a": {0, 0}, "b": {1, 1}, "c": {5, 5}} {
		if _, err := cl.VectorInsert(ctx, "emb", id, v, WithIdempotencyKey("ins-"+id)); err != nil {
			t.Fatal(err)
		}
	}
	res, err := cl.VectorSearch(ctx, "emb", []float32{0.9, 0.9}, 2, WithIncludeVectors(), WithConsistency(ConsistencyLinearizable))
	if err != nil || len(res.Matches) != 2 || res.Matches[0].ID != "b" || len(res.Matches[0].Vector) != 2 {
		t.Fatalf("search = %+v, %v", res, err)
	}
	v, found, err := cl.VectorGet(ctx, "emb", "c")
	if err != nil || !found || v[0] != 5 {
		t.Fatal(v, found, err)
	}
	if del, err := cl.VectorDelete(ctx, "emb", "c"); err != nil || !del {
		t.Fatal(del, err)
	}
	if _, found, _ := cl.VectorGet(ctx, "emb", "c"); found {
		t.Fatal("found after delete")
	}
	if dropped, err := cl.VectorDropIndex(ctx, "emb"); err != nil || !dropped {
		t.Fatal(dropped, err)
	}
}

// Stale reads skip replicas the view marks down: no refused connection,
// no backoff. Spread evenly (RoundRobin), both live replicas get reads;
// the default, fastest replica first, may send nearly all 30 to one on a
// loaded machine (seen: 30 and 2), which says nothing about the down one.
func TestStaleReadsSkipDownReplicas(t *testing.T) {
	fc := startServer(t, 3, 4)
	cl := newClient(t, fc, func(cfg *Config) { cfg.StaleReads.RoundRobin = true })
	ctx := context.Background()
	if _, err := cl.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	mustDo(t, fc.StopNode("n3"))
	mustDo(t, fc.SetRole("n3", "down"))
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the view with n3 down", func() bool { return cl.Stats().Topology.Epoch == fc.Epoch() })
	before := cl.Stats()
	for range 30 {
		if _, err := cl.Get(ctx, "k", WithConsistency(ConsistencyStaleOK)); err != nil {
			t.Fatal(err)
		}
	}
	// A read sent to n3 fails to connect and is retried, so retries tell.
	// Dial failures do not: Connect's watch asked every seed at once, and
	// its dial to n3 can fail after the view arrived (under doubled load
	// it did, 0 → 1, with no read retried).
	s := cl.Stats()
	if s.Requests.Retries != before.Requests.Retries {
		t.Fatalf("retries %d → %d: reads went to the down replica", before.Requests.Retries, s.Requests.Retries)
	}
	if fc.Calls("n1") < 5 || fc.Calls("n2") < 5 {
		t.Fatalf("reads not spread over the live replicas: %d %d", fc.Calls("n1"), fc.Calls("n2"))
	}
}
