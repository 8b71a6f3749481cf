package norikv

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/server"
)

// TotalShards 0 learns the count from the view: after Connect, or on the
// first call, which waits for the view; keys then go straight to their
// leaders.
func TestTotalShardsLearnt(t *testing.T) {
	for _, mode := range []string{"connect", "first-call", "first-call-no-watch"} {
		t.Run(mode, func(t *testing.T) {
			fc := startServer(t, 3, 64)
			mustDo(t, fc.LeadAll("n3"))
			cl := newClient(t, fc, func(c *Config) {
				c.TotalShards = 0
				c.DisableWatch = mode == "first-call-no-watch"
			})
			if got := cl.ShardForKey("k"); got != -1 {
				t.Fatalf("ShardForKey before the count is known = %d, want -1", got)
			}
			ctx := context.Background()
			if mode == "connect" {
				if err := cl.Connect(ctx); err != nil {
					t.Fatal(err)
				}
				if got, want := cl.ShardForKey("k"), routing.ShardString("k", 64); got != want {
					t.Fatalf("ShardForKey after Connect = %d, want %d", got, want)
				}
			}
			for i := range 20 {
				if _, err := cl.Put(ctx, fmt.Sprintf("k%d", i), []byte("v")); err != nil {
					t.Fatal(err)
				}
			}
			if s := cl.Stats(); s.Router.TotalShards != 64 || s.Requests.Redirects != 0 {
				t.Fatalf("shards %d redirects %d, want 64 0", s.Router.TotalShards, s.Requests.Redirects)
			}
			if a, b := fc.Calls("n1"), fc.Calls("n2"); a+b != 0 {
				t.Fatalf("%d calls went to followers", a+b)
			}
		})
	}
}

// A configured count that differs from the cluster's fails Connect and
// every call with INVALID_ARGUMENT naming both numbers, instead of
// silently paying a redirect on half the keys.
func TestTotalShardsMismatch(t *testing.T) {
	for _, watch := range []bool{true, false} {
		t.Run(fmt.Sprint("watch=", watch), func(t *testing.T) {
			fc := startServer(t, 3, 64)
			mustDo(t, fc.LeadAll("n2"))
			cl := newClient(t, fc, func(c *Config) { c.TotalShards = 32; c.DisableWatch = !watch })
			const want = "Config.TotalShards is 32 but the cluster has 64 shards"
			isMismatch := func(err error) bool {
				var e *Error
				return errors.As(err, &e) && e.Code == connect.CodeInvalidArgument && strings.Contains(e.Message, want)
			}
			ctx := context.Background()
			if err := cl.Connect(ctx); !isMismatch(err) {
				t.Fatalf("Connect = %v, want InvalidArgument %q", err, want)
			}
			for i := range 100 {
				if _, err := cl.Put(ctx, fmt.Sprintf("k%d", i), []byte("v")); !isMismatch(err) {
					t.Fatalf("Put %d = %v, want InvalidArgument %q", i, err, want)
				}
			}
			var calls int64
			for _, id := range fc.NodeIDs() {
				calls += fc.Calls(id)
			}
			if s := cl.Stats(); calls != 0 || s.Requests.Redirects != 0 {
				t.Fatalf("%d calls reached the cluster, %d redirects", calls, s.Requests.Redirects)
			}
		})
	}
}

// A cluster without Meta cannot tell its shard count: with TotalShards 0
// Connect and calls say so.
func TestTotalShardsNeededWithoutMeta(t *testing.T) {
	fc := startServer(t, 1, 4)
	fc.SetDefects(server.Defects{NoMeta: true})
	cl := newClient(t, fc, func(c *Config) { c.TotalShards = 0 })
	isNoMeta := func(err error) bool {
		var e *Error
		return errors.As(err, &e) && e.Code == connect.CodeInvalidArgument && strings.Contains(e.Message, "does not serve Meta")
	}
	if err := cl.Connect(context.Background()); !isNoMeta(err) {
		t.Fatalf("Connect = %v", err)
	}
	if _, err := cl.Put(context.Background(), "k", []byte("v")); !isNoMeta(err) {
		t.Fatalf("Put = %v", err)
	}
}

// A mismatched count fails every operation of a batch the same way,
// without sending any: a Kv.Batch is not routed by the Routing
// interceptor, so the batch path must check the count itself.
func TestTotalShardsMismatchBatch(t *testing.T) {
	fc := startServer(t, 3, 64)
	mustDo(t, fc.LeadAll("n2"))
	cl := newClient(t, fc, func(c *Config) { c.TotalShards = 32 })
	const want = "Config.TotalShards is 32 but the cluster has 64 shards"
	ctx := context.Background()
	if err := cl.Connect(ctx); err == nil {
		t.Fatal("Connect = nil, want the mismatch")
	}
	kvs := make([]KeyValue, 20)
	for i := range kvs {
		kvs[i] = KeyValue{Key: fmt.Sprintf("k%d", i), Value: []byte("v")}
	}
	_, err := cl.MultiPut(ctx, kvs)
	var be *BatchError
	if !errors.As(err, &be) || len(be.Errs) != len(kvs) {
		t.Fatalf("MultiPut = %v, want a BatchError of %d", err, len(kvs))
	}
	for i, e := range be.Errs {
		var ne *Error
		if !errors.As(e, &ne) || ne.Code != connect.CodeInvalidArgument || !strings.Contains(ne.Message, want) {
			t.Fatalf("Errs[%d] = %v, want InvalidArgument %q", i, e, want)
		}
	}
	var calls int64
	for _, id := range fc.NodeIDs() {
		calls += fc.Calls(id)
	}
	if calls != 0 {
		t.Fatalf("%d calls reached the cluster", calls)
	}
}

// Concurrent single calls, which natural batching may queue into a
// Kv.Batch, fail on a mismatched count too, and none is sent.
func TestTotalShardsMismatchConcurrent(t *testing.T) {
	fc := startServer(t, 3, 64)
	mustDo(t, fc.LeadAll("n2"))
	cl := newClient(t, fc, func(c *Config) { c.TotalShards = 32 })
	ctx := context.Background()
	if err := cl.Connect(ctx); err == nil {
		t.Fatal("Connect = nil, want the mismatch")
	}
	errs := make(chan error, 200)
	for i := range cap(errs) {
		go func() {
			_, err := cl.Put(ctx, fmt.Sprintf("k%d", i), []byte("v"))
			errs <- err
		}()
	}
	for range cap(errs) {
		var e *Error
		if err := <-errs; !errors.As(err, &e) || e.Code != connect.CodeInvalidArgument {
			t.Fatalf("Put = %v, want InvalidArgument", err)
		}
	}
	var calls int64
	for _, id := range fc.NodeIDs() {
		calls += fc.Calls(id)
	}
	if calls != 0 {
		t.Fatalf("%d calls reached the cluster", calls)
	}
}
