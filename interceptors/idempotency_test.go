package interceptors_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/wire"
	"github.com/norikv/norikv-go/norikvtest"
)

// sessionFor is a Session enabled while fc's view announces sessions.
func sessionFor(fc *norikvtest.Cluster) *interceptors.Session {
	return interceptors.NewSession(func() bool { return wire.HasCapability(fc.View(), wire.SessionCapability) })
}

// fastKv is rawKv with millisecond backoff and fc's session, and a ctx
// bounding the test.
func fastKv(t *testing.T, fc *norikvtest.Cluster) (norikvv1connect.KvClient, context.Context) {
	t.Helper()
	kv := rawKv(fc, interceptors.NewRetry(interceptors.RetryPolicy{InitialDelay: time.Millisecond, Jitter: -1, Session: sessionFor(fc)}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(func() {
		cancel()
		http.DefaultClient.CloseIdleConnections()
	})
	return kv, ctx
}

// A raw client that sends one message twice (say, to refresh a TTL) must
// get two writes: the interceptor's key belongs to one call, not to the
// caller's message.
func TestRetryLeavesCallerMessageAlone(t *testing.T) {
	fc := startServer(t, 1, 8)
	var keys []string
	var mu sync.Mutex
	fc.SetFaults(func(_ context.Context, _ string, proc string, msg any) error {
		if p, ok := msg.(*v1.PutRequest); ok {
			mu.Lock()
			keys = append(keys, p.IdempotencyKey)
			mu.Unlock()
		}
		return nil
	})
	kv, ctx := fastKv(t, fc)

	req := &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), TtlMs: 60_000}
	first, err := kv.Put(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if req.IdempotencyKey != "" {
		t.Fatalf("caller's message was stamped with key %q", req.IdempotencyKey)
	}
	second, err := kv.Put(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if first.GetVersion().GetIndex() == second.GetVersion().GetIndex() {
		t.Fatalf("second send of one message not applied: both at version %v", first.GetVersion())
	}
	if len(keys) != 2 || keys[0] == "" || keys[1] == "" || keys[0] == keys[1] {
		t.Fatalf("server saw keys %q, want two distinct non-empty ones", keys)
	}
}

// Goroutines sharing one message must not race (run with -race).
func TestRetrySharedMessageNoRace(t *testing.T) {
	fc := startServer(t, 1, 8)
	kv, ctx := fastKv(t, fc)
	req := &v1.PutRequest{Key: []byte("shared"), Value: []byte("v")}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if _, err := kv.Put(ctx, req); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
}

// A keyed write is retried with the same key on every attempt, so the
// server can apply it once.
func TestRetryKeepsOneKeyAcrossAttempts(t *testing.T) {
	fc := startServer(t, 1, 8)
	var keys []string
	var mu sync.Mutex
	fc.SetFaults(func(_ context.Context, _ string, proc string, msg any) error {
		p, ok := msg.(*v1.PutRequest)
		if !ok {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		keys = append(keys, p.IdempotencyKey)
		if len(keys) < 3 {
			return connect.NewError(connect.CodeUnavailable, errors.New("flaky"))
		}
		return nil
	})
	kv, ctx := fastKv(t, fc)
	if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3 || keys[0] == "" || keys[0] != keys[1] || keys[1] != keys[2] {
		t.Fatalf("attempts carried keys %q, want one key three times", keys)
	}
}

// adminStub answers TransferShard with the errors queued in fail, then OK.
type adminStub struct {
	norikvv1connect.UnimplementedAdminHandler
	calls atomic.Int32
	fail  func(call int32) error
}

func (a *adminStub) TransferShard(_ context.Context, in *v1.ShardInfo) (*v1.ShardInfo, error) {
	if err := a.fail(a.calls.Add(1)); err != nil {
		return nil, err
	}
	return in, nil
}

func rawAdmin(t *testing.T, stub *adminStub) norikvv1connect.AdminClient {
	mux := http.NewServeMux()
	mux.Handle(norikvv1connect.NewAdminHandler(stub))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	addr := strings.TrimPrefix(srv.URL, "http://")
	return norikvv1connect.NewAdminClient(
		interceptors.NewHTTPClient(srv.Client()), srv.URL,
		connect.WithInterceptors(
			interceptors.Errors(),
			interceptors.NewRetry(interceptors.RetryPolicy{InitialDelay: time.Millisecond, Jitter: -1}),
			interceptors.Routing(interceptors.NewRouter([]string{addr}, 8)),
		),
	)
}

// A method not declared idempotent whose request carries no idempotency
// key (today TransferShard; tomorrow perhaps a new write type) is not
// retried after a failure that may have reached the server.
func TestRetryKeylessNonIdempotentNotRetried(t *testing.T) {
	stub := &adminStub{fail: func(int32) error { return connect.NewError(connect.CodeUnavailable, errors.New("busy")) }}
	admin := rawAdmin(t, stub)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := admin.TransferShard(ctx, &v1.ShardInfo{Id: 1})
	if connect.CodeOf(err) != connect.CodeUnavailable {
		t.Fatalf("err = %v", err)
	}
	if n := stub.calls.Load(); n != 1 {
		t.Fatalf("keyless non-idempotent call sent %d times, want 1", n)
	}
}

// A NOT_LEADER reply means the node did not apply the request, so even a
// keyless non-idempotent call follows the redirect.
func TestRetryKeylessFollowsNotLeader(t *testing.T) {
	stub := &adminStub{fail: func(n int32) error {
		if n == 1 {
			return wire.NewNotLeaderError(1, "n2", "127.0.0.1:1")
		}
		return nil
	}}
	admin := rawAdmin(t, stub)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := admin.TransferShard(ctx, &v1.ShardInfo{Id: 1}); err != nil {
		t.Fatal(err)
	}
	if n := stub.calls.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2 (one redirect)", n)
	}
}

// Reads, declared NO_SIDE_EFFECTS, are retried without any key.
func TestRetryIdempotentMethodRetried(t *testing.T) {
	fc := startServer(t, 1, 8)
	var gets atomic.Int32
	fc.SetFaults(func(_ context.Context, _ string, proc string, _ any) error {
		if proc == norikvv1connect.KvGetProcedure && gets.Add(1) < 3 {
			return connect.NewError(connect.CodeUnavailable, errors.New("flaky"))
		}
		return nil
	})
	kv, ctx := fastKv(t, fc)
	if _, err := kv.Get(ctx, &v1.GetRequest{Key: []byte("nope")}); !errors.Is(err, interceptors.ErrKeyNotFound) {
		t.Fatalf("Get: %v", err)
	}
	if n := gets.Load(); n != 3 {
		t.Fatalf("Get attempts = %d, want 3", n)
	}
}

// A refused connection proves the request was not sent, so even a keyless
// non-idempotent call is tried again.
func TestRetryKeylessRetriedWhenNotSent(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	retry := interceptors.NewRetry(interceptors.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Millisecond, Jitter: -1})
	admin := norikvv1connect.NewAdminClient(http.DefaultClient, url, connect.WithInterceptors(interceptors.Errors(), retry))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := admin.TransferShard(ctx, &v1.ShardInfo{Id: 1})
	if !interceptors.IsConnectionFailure(err) {
		t.Fatalf("err = %v", err)
	}
	if s := retry.Stats(); s.Retries != 2 {
		t.Fatalf("retries = %d, want 2", s.Retries)
	}
}

// A call its caller retries itself (WithOneAttempt) gets one attempt,
// where the same call without the mark is retried.
func TestRetryWithOneAttempt(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // refused: proven not sent, so retried without the mark
	retry := interceptors.NewRetry(interceptors.RetryPolicy{MaxAttempts: 3, InitialDelay: time.Millisecond, Jitter: -1})
	refused := norikvv1connect.NewAdminClient(http.DefaultClient, url, connect.WithInterceptors(interceptors.Errors(), retry))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, err := refused.TransferShard(interceptors.WithOneAttempt(ctx), &v1.ShardInfo{Id: 1}); !interceptors.IsConnectionFailure(err) {
		t.Fatalf("err = %v", err)
	}
	if s := retry.Stats(); s.Retries != 0 {
		t.Fatalf("retries = %d with WithOneAttempt, want 0", s.Retries)
	}
	if _, err := refused.TransferShard(ctx, &v1.ShardInfo{Id: 1}); !interceptors.IsConnectionFailure(err) {
		t.Fatalf("err = %v", err)
	}
	if s := retry.Stats(); s.Retries != 2 {
		t.Fatalf("retries = %d without WithOneAttempt, want 2 (the test's premise)", s.Retries)
	}
}

// The keyed copy shares the caller's value and sub-messages instead of
// copying them, and differs from the original only by its key.
func TestRetryKeyedCopyIsShallow(t *testing.T) {
	orig := &v1.PutRequest{Key: []byte("k"), Value: make([]byte, 1<<20), TtlMs: 7, IfMatch: &v1.Version{Term: 1, Index: 2}}
	var sent *v1.PutRequest
	stub := func(_ context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		sent = req.Any().(*v1.PutRequest)
		return connect.NewResponse(&v1.PutResponse{}), nil
	}
	req := connect.NewRequest(orig)
	session := interceptors.NewSession(func() bool { return true })
	if _, err := interceptors.NewRetry(interceptors.RetryPolicy{Session: session}).WrapUnary(stub)(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	switch {
	case sent == orig:
		t.Fatal("caller's message sent")
	case sent.IdempotencyKey == "" || orig.IdempotencyKey != "":
		t.Fatalf("keys: sent %q, caller's %q", sent.IdempotencyKey, orig.IdempotencyKey)
	case &sent.Value[0] != &orig.Value[0] || sent.IfMatch != orig.IfMatch:
		t.Fatal("value or if_match copied, not shared")
	case string(sent.Key) != "k" || sent.TtlMs != 7:
		t.Fatalf("fields lost: %v", sent)
	case req.Msg != orig:
		t.Fatal("caller's request not given its message back")
	}
	if k, ok := wire.ParseSessionKey(sent.IdempotencyKey); !ok || k.ID != session.ID() || k.Seq != 1 || k.Watermark != 1 {
		t.Fatalf("stamped key %q is not the session's first (%q)", sent.IdempotencyKey, session.ID())
	}
	if w := session.Watermark(); w != 2 {
		t.Fatalf("watermark after the call = %d, want 2: the sequence was not given back", w)
	}
}

// Without a session (or against a cluster that does not announce one), a
// write goes without a key, and a failure that does not prove it was not
// applied is returned at once as ErrOutcomeUnknown, not retried.
func TestRetryUnkeyedWriteOutcomeUnknown(t *testing.T) {
	var calls atomic.Int32
	var keys []string
	stub := func(_ context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		calls.Add(1)
		keys = append(keys, req.Any().(*v1.PutRequest).IdempotencyKey)
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("reply lost"))
	}
	session := interceptors.NewSession(func() bool { return false })
	retry := interceptors.NewRetry(interceptors.RetryPolicy{InitialDelay: time.Millisecond, Jitter: -1, Session: session})
	call := interceptors.Errors().WrapUnary(retry.WrapUnary(stub))
	_, err := call(context.Background(), connect.NewRequest(&v1.PutRequest{Key: []byte("k")}))
	if !errors.Is(err, interceptors.ErrOutcomeUnknown) || !strings.Contains(err.Error(), "reply lost") {
		t.Fatalf("err = %v, want ErrOutcomeUnknown keeping the cause", err)
	}
	if calls.Load() != 1 || keys[0] != "" {
		t.Fatalf("%d attempts with keys %q, want 1 without a key", calls.Load(), keys)
	}
	if st := session.Stats(); st.Unkeyed != 1 || st.AutoKeyed != 0 {
		t.Fatalf("session stats %+v, want 1 unkeyed write", st)
	}
	// A caller's key is sent and makes the write safe to retry.
	calls.Store(0)
	_, err = call(context.Background(), connect.NewRequest(&v1.PutRequest{Key: []byte("k"), IdempotencyKey: "mine"}))
	if errors.Is(err, interceptors.ErrOutcomeUnknown) || calls.Load() < 2 {
		t.Fatalf("keyed write: %d attempts, err %v; want retries", calls.Load(), err)
	}
}

// The watermark is the lowest sequence still awaited, whatever order
// calls end in, past the ring's first size too.
func TestSessionWatermark(t *testing.T) {
	s := interceptors.NewSession(func() bool { return true })
	var seqs []uint64
	for range 200 {
		_, seq := s.Stamp()
		seqs = append(seqs, seq)
	}
	if w := s.Watermark(); w != 1 {
		t.Fatalf("watermark %d, want 1", w)
	}
	for _, q := range seqs[1:150] {
		s.Done(q)
	}
	if w := s.Watermark(); w != 1 {
		t.Fatalf("watermark %d with 1 still awaited, want 1", w)
	}
	s.Done(seqs[0])
	if w := s.Watermark(); w != 151 {
		t.Fatalf("watermark %d, want 151", w)
	}
	key, _ := s.Stamp()
	if k, ok := wire.ParseSessionKey(key); !ok || k.Seq != 201 || k.Watermark != 151 {
		t.Fatalf("key %q: %+v", key, k)
	}
	if st := s.Stats(); st.InFlight != 51 || st.AutoKeyed != 201 {
		t.Fatalf("stats %+v", st)
	}
}
