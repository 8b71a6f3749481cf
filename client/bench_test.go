package norikv_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"connectrpc.com/connect"

	norikv "github.com/norikv/norikv-go/client"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/norikvtest"
)

// The SDK's Put against the raw generated client's Put, both over gRPC/h2c
// to the same in-process cluster, on one key whose leader the raw client
// is pointed at directly. The difference is the SDK's overhead:
// validation, retry bookkeeping, idempotency key, routing, error mapping.

func benchCluster(b *testing.B) (*norikvtest.Cluster, string) {
	cl := norikvtest.Start(b, norikvtest.WithShards(64))
	return cl, cl.Addr(cl.Leader(cl.ShardOf([]byte("bench-key"))))
}

func BenchmarkPutSDK(b *testing.B) { benchPutSDK(b, 0) }

// BenchmarkPutSDKNoTimeout: see BenchmarkGetSDKNoTimeout. Compare with
// BenchmarkPutRawIdem, which also sends an idempotency key (the server's
// idempotency cache costs the same for both).
func BenchmarkPutSDKNoTimeout(b *testing.B) { benchPutSDK(b, -1) }

func benchPutSDK(b *testing.B, timeout time.Duration) {
	cl, _ := benchCluster(b)
	c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), Timeout: timeout})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	val := []byte("value-0123456789")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Put(ctx, "bench-key", val); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkPutRaw(b *testing.B) { benchPutRaw(b, false) }

// BenchmarkPutRawIdem sends a fresh idempotency key per call, as the SDK
// does.
func BenchmarkPutRawIdem(b *testing.B) { benchPutRaw(b, true) }

func benchPutRaw(b *testing.B, idem bool) {
	_, leader := benchCluster(b)
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	defer tr.CloseIdleConnections()
	kv := norikvv1connect.NewKvClient(&http.Client{Transport: tr}, "http://"+leader, connect.WithGRPC())
	ctx := context.Background()
	val := []byte("value-0123456789")
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		req := &v1.PutRequest{Key: []byte("bench-key"), Value: val}
		if idem {
			req.IdempotencyKey = interceptors.NewIdempotencyKey()
		}
		if _, err := kv.Put(ctx, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetSDK(b *testing.B) { benchGetSDK(b, 0) }

// BenchmarkGetSDKNoTimeout turns Config.Timeout off: without a deadline
// no timer is armed and no grpc-timeout header is sent, on either side,
// so this is the like-for-like comparison with BenchmarkGetRaw.
func BenchmarkGetSDKNoTimeout(b *testing.B) { benchGetSDK(b, -1) }

func benchGetSDK(b *testing.B, timeout time.Duration) {
	cl, _ := benchCluster(b)
	c, _ := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), Timeout: timeout})
	defer c.Close()
	ctx := context.Background()
	_ = c.Connect(ctx)
	if _, err := c.Put(ctx, "bench-key", []byte("v")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Get(ctx, "bench-key"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetRawTimeout is the raw client with the per-call deadline the
// SDK applies by default (Config.Timeout, 5s): compare with
// BenchmarkGetSDK.
func BenchmarkGetRawTimeout(b *testing.B) { benchGetRaw(b, 5*time.Second) }

func BenchmarkGetRaw(b *testing.B) { benchGetRaw(b, 0) }

func benchGetRaw(b *testing.B, timeout time.Duration) {
	_, leader := benchCluster(b)
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: p}
	defer tr.CloseIdleConnections()
	kv := norikvv1connect.NewKvClient(&http.Client{Transport: tr}, "http://"+leader, connect.WithGRPC())
	ctx := context.Background()
	if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("bench-key"), Value: []byte("v")}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		cctx, cancel := ctx, context.CancelFunc(func() {})
		if timeout > 0 {
			cctx, cancel = context.WithTimeout(ctx, timeout)
		}
		_, err := kv.Get(cctx, &v1.GetRequest{Key: []byte("bench-key")})
		cancel()
		if err != nil {
			b.Fatal(err)
		}
	}
}

type benchCtxKey struct{}

// BenchmarkGetSDKCallerCtx is BenchmarkGetSDK with a caller ctx that
// carries a value, or a deadline: what tying each call to Close costs
// beyond context.Background (see Client.callCtx).
func BenchmarkGetSDKCallerCtx(b *testing.B) {
	cl, _ := benchCluster(b)
	c, _ := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards()})
	defer c.Close()
	_ = c.Connect(context.Background())
	if _, err := c.Put(context.Background(), "bench-key", []byte("v")); err != nil {
		b.Fatal(err)
	}
	deadline, cancel := context.WithTimeout(context.Background(), time.Hour)
	defer cancel()
	for name, ctx := range map[string]context.Context{
		"values":   context.WithValue(context.Background(), benchCtxKey{}, 1),
		"deadline": deadline,
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Get(ctx, "bench-key"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetStale is a stale_ok Get on a healthy cluster: the replica
// chosen by latency and hedging on (the defaults), against round-robin
// without hedging (the client before them), for the cost of the
// estimate and the hedge timer.
func BenchmarkGetStale(b *testing.B) {
	for _, bc := range []struct {
		name string
		cfg  norikv.StaleReadConfig
	}{
		{"defaults", norikv.StaleReadConfig{}},
		{"round-robin-no-hedge", norikv.StaleReadConfig{RoundRobin: true, DisableHedging: true}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cl, _ := benchCluster(b)
			c, _ := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), StaleReads: bc.cfg})
			defer c.Close()
			ctx := context.Background()
			_ = c.Connect(ctx)
			if _, err := c.Put(ctx, "bench-key", []byte("v")); err != nil {
				b.Fatal(err)
			}
			stale := norikv.WithConsistency(norikv.ConsistencyStaleOK)
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Get(ctx, "bench-key", stale); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
