package interceptors_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/norikvtest"
)

func rawKv(fc *norikvtest.Cluster, retry *interceptors.Retry) norikvv1connect.KvClient {
	router := interceptors.NewRouter(fc.Addrs(), fc.Shards())
	return norikvv1connect.NewKvClient(
		interceptors.NewHTTPClient(http.DefaultClient),
		"http://"+fc.Addrs()[0],
		connect.WithInterceptors(
			interceptors.Errors(),
			interceptors.Validate(),
			retry,
			interceptors.Routing(router),
		),
	)
}

func TestRawClientFollowsNotLeader(t *testing.T) {
	fc := startServer(t, 3, 8)
	if err := fc.LeadAll("n3"); err != nil {
		t.Fatal(err)
	}
	retry := interceptors.NewRetry(interceptors.RetryPolicy{InitialDelay: time.Hour})
	kv := rawKv(fc, retry)
	defer http.DefaultClient.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req := &v1.PutRequest{Key: []byte("k"), Value: []byte("v")}
	if _, err := kv.Put(ctx, req); err != nil {
		t.Fatal(err)
	}
	if s := retry.Stats(); s.Redirects != 1 || s.Retries != 0 || s.Requests != 1 {
		t.Fatalf("stats = %+v", s)
	}
	if _, err := kv.Get(ctx, &v1.GetRequest{Key: []byte("nope")}); !errors.Is(err, interceptors.ErrKeyNotFound) {
		t.Fatalf("Get missing: %v", err)
	}
	_, err := kv.Get(ctx, &v1.GetRequest{Key: nil})
	var e *interceptors.Error
	if !errors.As(err, &e) || e.Code != connect.CodeInvalidArgument {
		t.Fatalf("validation: %v", err)
	}
}

func TestRetryableClassification(t *testing.T) {
	yes := []connect.Code{connect.CodeUnavailable, connect.CodeAborted, connect.CodeResourceExhausted, connect.CodeDeadlineExceeded}
	no := []connect.Code{connect.CodeInvalidArgument, connect.CodeNotFound, connect.CodeFailedPrecondition,
		connect.CodeAlreadyExists, connect.CodeUnauthenticated, connect.CodePermissionDenied, connect.CodeInternal}
	for _, c := range yes {
		if !interceptors.Retryable(connect.NewError(c, errors.New("x"))) {
			t.Errorf("%v not retryable", c)
		}
	}
	for _, c := range no {
		if interceptors.Retryable(connect.NewError(c, errors.New("x"))) {
			t.Errorf("%v retryable", c)
		}
	}
}

func TestConvertTable(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		op   string
		err  error
		want error
	}{
		{"Get", connect.NewError(connect.CodeNotFound, errors.New("x")), interceptors.ErrKeyNotFound},
		{"Put", connect.NewError(connect.CodeFailedPrecondition, errors.New("version mismatch")), interceptors.ErrVersionMismatch},
		{"Put", connect.NewError(connect.CodeAlreadyExists, errors.New("x")), interceptors.ErrAlreadyExists},
		{"VectorSearch", connect.NewError(connect.CodeNotFound, errors.New("x")), interceptors.ErrIndexNotFound},
	}
	for _, c := range cases {
		e := interceptors.Convert(ctx, c.op, c.err)
		if !errors.Is(e, c.want) || e.Operation != c.op {
			t.Errorf("%s %v → %v", c.op, c.err, e)
		}
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	e := interceptors.Convert(cctx, "Put", connect.NewError(connect.CodeUnavailable, errors.New("x")))
	if !errors.Is(e, context.Canceled) || e.Code != connect.CodeCanceled {
		t.Errorf("cancelled: %v", e)
	}
	// NOT_LEADER via FAILED_PRECONDITION is not a CAS failure.
	e = interceptors.Convert(ctx, "VectorInsert", connect.NewError(connect.CodeFailedPrecondition, errors.New("Not leader")))
	if errors.Is(e, interceptors.ErrVersionMismatch) {
		t.Errorf("not-leader mapped to version mismatch")
	}
}

func TestShardOf(t *testing.T) {
	s, lead, ok := interceptors.ShardOf(&v1.GetRequest{Key: []byte("hello"), Consistency: "eventual"}, 1024)
	if !ok || s != 309 || lead {
		t.Fatalf("GetRequest: %d %v %v", s, lead, ok)
	}
	s, lead, ok = interceptors.ShardOf(&v1.VectorSearchRequest{Namespace: "hello"}, 256)
	if !ok || s != 118 || !lead {
		t.Fatalf("VectorSearchRequest: %d %v %v", s, lead, ok)
	}
	if _, _, ok := interceptors.ShardOf(&v1.ClusterView{}, 8); ok {
		t.Fatal("ClusterView routed")
	}
}

func TestHTTPClientRewritesHost(t *testing.T) {
	var got string
	c := interceptors.NewHTTPClient(doerFunc(func(r *http.Request) (*http.Response, error) {
		got = r.URL.Host
		return nil, errors.New("stop")
	}))
	req, _ := http.NewRequestWithContext(interceptors.WithTarget(context.Background(), "10.0.0.9:7"), http.MethodPost, "http://seed:1/x", nil)
	_, _ = c.Do(req)
	if got != "10.0.0.9:7" {
		t.Fatalf("host = %q", got)
	}
	if interceptors.TargetFrom(context.Background()) != "" {
		t.Fatal("target from empty ctx")
	}
}

type doerFunc func(*http.Request) (*http.Response, error)

func (f doerFunc) Do(r *http.Request) (*http.Response, error) { return f(r) }

func TestHostPort(t *testing.T) {
	for in, want := range map[string]string{"a:1": "a:1", "http://a:1": "a:1", "https://a:1/x": "a:1"} {
		if got := interceptors.HostPort(in); got != want {
			t.Errorf("HostPort(%q) = %q", in, got)
		}
	}
	_ = fmt.Sprint()
}
