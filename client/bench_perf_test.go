package norikv_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/loadgen/targets"
	"github.com/norikv/norikv-go/server"
)

// The SDK against the raw generated client, per protocol, over loopback
// to the same one-node embedded cluster (so the raw client needs no
// routing), each on its own transport built the way the SDK builds its
// own: h2c for gRPC, HTTP/1.1 for Connect and gRPC-Web, compression off
// below 1 KiB. The raw Put carries a fresh idempotency key, as the SDK's
// does, so both cost the server the same. allocs/op counts client and
// server (one process); the SDK's extra allocations are the difference.
//
// Sequential calls (b.Loop) give per-call latency; the Parallel variants
// keep 64 calls in flight (b.SetParallelism) for throughput.
//
//	go test -run '^$' -bench 'Perf' -benchmem -count 5 ./client/ | tee perf.txt
//	go run golang.org/x/perf/cmd/benchstat@latest -col /client perf.txt

var perfProtocols = []struct {
	name string
	p    norikv.Protocol
}{{"grpc", norikv.ProtocolGRPC}, {"connect", norikv.ProtocolConnect}, {"grpcweb", norikv.ProtocolGRPCWeb}}

type perfKV interface {
	put(ctx context.Context, key string, val []byte) error
	get(ctx context.Context, key string) error
}

type perfSDK struct{ c *norikv.Client }

func (s perfSDK) put(ctx context.Context, key string, val []byte) error {
	_, err := s.c.Put(ctx, key, val)
	return err
}

func (s perfSDK) get(ctx context.Context, key string) error {
	_, err := s.c.Get(ctx, key)
	return err
}

// perfRaw is the generated client; with a timeout it sets the same
// per-call deadline the SDK's default Config.Timeout does (the deadline
// travels to the server, which arms its own timer).
type perfRaw struct {
	kv      norikvv1connect.KvClient
	timeout time.Duration
}

func (r perfRaw) put(ctx context.Context, key string, val []byte) error {
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	_, err := r.kv.Put(ctx, &v1.PutRequest{Key: []byte(key), Value: val, IdempotencyKey: interceptors.NewIdempotencyKey()})
	return err
}

func (r perfRaw) get(ctx context.Context, key string) error {
	if r.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, r.timeout)
		defer cancel()
	}
	res, err := r.kv.Get(ctx, &v1.GetRequest{Key: []byte(key)})
	if err == nil && res.GetVersion() == nil {
		return errors.New("missing")
	}
	return err
}

func perfClients(b *testing.B, p norikv.Protocol) map[string]perfKV {
	cl, err := server.Start(server.Config{Nodes: 1, Shards: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cl.Close() })
	sdk := func(timeout time.Duration) perfSDK {
		c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), Protocol: p, Timeout: timeout})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { c.Close() })
		if err := c.Connect(context.Background()); err != nil {
			b.Fatal(err)
		}
		return perfSDK{c}
	}
	tr, opts, err := targets.RawTransport(p.String())
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(tr.CloseIdleConnections)
	kv := norikvv1connect.NewKvClient(&http.Client{Transport: tr}, "http://"+cl.Addrs()[0], opts...)
	return map[string]perfKV{
		"raw": perfRaw{kv: kv}, "raw-deadline": perfRaw{kv: kv, timeout: norikv.DefaultTimeout},
		"sdk": sdk(0), "sdk-notimeout": sdk(-1),
	}
}

// Compare sdk with raw-deadline (both send a 5s deadline) and
// sdk-notimeout with raw (neither does).
var perfClientNames = []string{"raw", "raw-deadline", "sdk", "sdk-notimeout"}

func BenchmarkPerfPut(b *testing.B) { perfBench(b, false, false) }
func BenchmarkPerfGet(b *testing.B) { perfBench(b, true, false) }

func BenchmarkPerfPutParallel(b *testing.B) { perfBench(b, false, true) }
func BenchmarkPerfGetParallel(b *testing.B) { perfBench(b, true, true) }

func perfBench(b *testing.B, get, parallel bool) {
	for _, pr := range perfProtocols {
		b.Run("protocol="+pr.name, func(b *testing.B) {
			clients := perfClients(b, pr.p)
			for _, name := range perfClientNames {
				kv := clients[name]
				b.Run("client="+name, func(b *testing.B) {
					ctx := context.Background()
					val := make([]byte, 100)
					if err := kv.put(ctx, "bench-key", val); err != nil {
						b.Fatal(err)
					}
					op := func() error {
						if get {
							return kv.get(ctx, "bench-key")
						}
						return kv.put(ctx, "bench-key", val)
					}
					b.ReportAllocs()
					if !parallel {
						for b.Loop() {
							if err := op(); err != nil {
								b.Fatal(err)
							}
						}
						return
					}
					b.SetParallelism(32) // × GOMAXPROCS 2 = 64 in flight
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						for pb.Next() {
							if err := op(); err != nil {
								b.Error(err)
								return
							}
						}
					})
				})
			}
		})
	}
}
