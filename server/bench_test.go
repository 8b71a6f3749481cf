package server

import (
	"bytes"
	"context"
	"testing"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Throughput and allocations of Put and Get: calling the handler methods
// directly (the server's own cost), and through the generated client over
// a loopback connection (gRPC over h2c, Connect over HTTP/1.1).
//
//	go test -run '^$' -bench 'Kv(Put|Get)' -benchmem ./server/

func benchCluster(b *testing.B) *Cluster {
	c, err := Start(Config{Nodes: 1, Shards: 64})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c
}

func BenchmarkKvPut(b *testing.B) {
	value := bytes.Repeat([]byte("v"), 100)
	b.Run("direct", func(b *testing.B) {
		h := &kvService{c: benchCluster(b)}
		req := &v1.PutRequest{Key: []byte("bench-key"), Value: value}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Put(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct-parallel", func(b *testing.B) {
		h := &kvService{c: benchCluster(b)}
		var keys []string // one per shard: parallel writers rarely share a lock
		for i := range 64 {
			keys = append(keys, keysOnShard(h.c, uint32(i), 1)[0])
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			ctx := context.Background()
			i := 0
			for pb.Next() {
				i++
				if _, err := h.Put(ctx, &v1.PutRequest{Key: []byte(keys[i%len(keys)]), Value: value}); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	for _, p := range []protocol{protocols[0], protocols[2]} {
		b.Run("loopback-"+p.name, func(b *testing.B) {
			kv := dial(b, benchCluster(b).Addrs()[0], p).kv
			req := &v1.PutRequest{Key: []byte("bench-key"), Value: value}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := kv.Put(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkKvGet(b *testing.B) {
	value := bytes.Repeat([]byte("v"), 100)
	seed := func(b *testing.B, c *Cluster) {
		if _, err := (&kvService{c: c}).Put(context.Background(), &v1.PutRequest{Key: []byte("bench-key"), Value: value}); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("direct", func(b *testing.B) {
		c := benchCluster(b)
		seed(b, c)
		h := &kvService{c: c}
		req := &v1.GetRequest{Key: []byte("bench-key")}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := h.Get(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("direct-parallel", func(b *testing.B) {
		c := benchCluster(b)
		seed(b, c)
		h := &kvService{c: c}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			req := &v1.GetRequest{Key: []byte("bench-key")}
			ctx := context.Background()
			for pb.Next() {
				if _, err := h.Get(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
	for _, p := range []protocol{protocols[0], protocols[2]} {
		b.Run("loopback-"+p.name, func(b *testing.B) {
			c := benchCluster(b)
			seed(b, c)
			kv := dial(b, c.Addrs()[0], p).kv
			req := &v1.GetRequest{Key: []byte("bench-key")}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := kv.Get(ctx, req); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
