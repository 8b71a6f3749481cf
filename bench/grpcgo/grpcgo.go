// Package grpcgo is a plain grpc-go client of norikv.v1.Kv as a
// loadgen.Target, for comparison with the SDK.
//
// It uses the library's generated message types and conn.Invoke with the
// full method name, which is exactly what a protoc-gen-go-grpc client
// method does (its generated KvClient.Put is
// `out := new(PutResponse); err := c.cc.Invoke(ctx, Kv_Put_FullMethodName, in, out, opts...)`).
// No second copy of the norikv.v1 messages is generated: linking two would
// register the same protobuf names twice and panic at init.
package grpcgo

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/loadgen"
	"github.com/norikv/norikv-go/internal/loadgen/targets"
)

const (
	putMethod = "/norikv.v1.Kv/Put"
	getMethod = "/norikv.v1.Kv/Get"
)

// Target holds one grpc.ClientConn (one HTTP/2 connection) per shard
// leader and routes each key by a static table.
type Target struct {
	t     *targets.Table
	conns []*grpc.ClientConn
}

var _ loadgen.Target = (*Target)(nil)

// New dials (lazily, as grpc.NewClient does) every leader of t.
func New(t *targets.Table) (*Target, error) {
	g := &Target{t: t}
	for _, a := range t.Addrs {
		cc, err := grpc.NewClient(a, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			g.Close()
			return nil, err
		}
		g.conns = append(g.conns, cc)
	}
	return g, nil
}

// Close closes every connection.
func (g *Target) Close() {
	for _, cc := range g.conns {
		_ = cc.Close()
	}
}

// Put is KvClient.Put as protoc-gen-go-grpc generates it.
func (g *Target) Put(ctx context.Context, key string, value []byte) error {
	out := new(v1.PutResponse)
	return g.conns[g.t.Index(key)].Invoke(ctx, putMethod, &v1.PutRequest{Key: []byte(key), Value: value}, out)
}

// Get is KvClient.Get as protoc-gen-go-grpc generates it. NOT_FOUND or an
// unset version is a miss.
func (g *Target) Get(ctx context.Context, key string) (bool, error) {
	out := new(v1.GetResponse)
	err := g.conns[g.t.Index(key)].Invoke(ctx, getMethod, &v1.GetRequest{Key: []byte(key)}, out)
	if status.Code(err) == codes.NotFound {
		return false, nil
	}
	return err == nil && out.GetVersion() != nil, err
}
