package norikvotel_test

import (
	"context"
	"testing"

	"connectrpc.com/connect"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	norikv "github.com/norikv/norikv-go/client"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/norikvtest"
	norikvotel "github.com/norikv/norikv-go/otel"
)

// The cost of the module: the same calls with it off (no Observer: the
// client's own chain) and on (every span sampled and handed to an exporter
// that drops it; metrics aggregated by the SDK).

func benchProviders(b *testing.B) []norikvotel.Option {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(sdktrace.NewSimpleSpanProcessor(tracetest.NewNoopExporter())))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		_ = mp.Shutdown(context.Background())
	})
	return []norikvotel.Option{norikvotel.WithTracerProvider(tp), norikvotel.WithMeterProvider(mp)}
}

// BenchmarkChain is interceptors.BenchmarkChain's Get, without the
// network.
func BenchmarkChain(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			router := interceptors.NewRouter([]string{"127.0.0.1:1"}, 1024)
			res := connect.NewResponse(&v1.GetResponse{Version: &v1.Version{Index: 1}})
			var next connect.UnaryFunc = func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) { return res, nil }
			chain := []connect.Interceptor{interceptors.Routing(router), interceptors.NewRetry(interceptors.RetryPolicy{}), interceptors.Validate(), interceptors.Errors()}
			if on {
				obs, err := norikvotel.NewObserver(norikv.ProtocolGRPC, benchProviders(b)...)
				if err != nil {
					b.Fatal(err)
				}
				calls, attempts := interceptors.Observe(obs, router)
				chain = append(append([]connect.Interceptor{attempts}, chain...), calls)
			}
			for _, ic := range chain {
				next = ic.WrapUnary(next)
			}
			req := connect.NewRequest(&v1.GetRequest{Key: []byte("user:1")})
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := next(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkGetSDK is the client's BenchmarkGetSDK: a Get over gRPC to an
// in-process cluster.
func BenchmarkGetSDK(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[on]
		b.Run(name, func(b *testing.B) {
			cl := norikvtest.Start(b, norikvtest.WithShards(64))
			cfg := norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards()}
			if on {
				if err := norikvotel.Instrument(&cfg, benchProviders(b)...); err != nil {
					b.Fatal(err)
				}
			}
			c, err := norikv.New(cfg)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			if err := c.Connect(ctx); err != nil {
				b.Fatal(err)
			}
			if _, err := c.Put(ctx, "bench-key", []byte("value-0123456789")); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if _, err := c.Get(ctx, "bench-key"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
