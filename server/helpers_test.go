package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

// fakeClock is a cluster clock tests move by hand, so TTL and idempotency
// expiry are tested without sleeping.
type fakeClock struct{ ns atomic.Int64 }

func (f *fakeClock) now() int64              { return f.ns.Load() }
func (f *fakeClock) advance(d time.Duration) { f.ns.Add(int64(d)) }

// startTest starts a cluster on ephemeral ports with a fake clock and
// closes it when the test ends.
func startTest(t testing.TB, cfg Config) (*Cluster, *fakeClock) {
	t.Helper()
	clk := &fakeClock{}
	clk.ns.Store(1) // 0 means "never" in some fields; start past it
	c, err := start0(cfg, clk.now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, clk
}

// protocol is one way a client can talk to a node.
type protocol struct {
	name string
	opts []connect.ClientOption
	h2c  bool // gRPC needs HTTP/2; the others run over HTTP/1.1 here
}

var protocols = []protocol{
	{name: "grpc", opts: []connect.ClientOption{connect.WithGRPC()}, h2c: true},
	{name: "grpcweb", opts: []connect.ClientOption{connect.WithGRPCWeb()}},
	{name: "connect", opts: nil},
}

var grpcProto = protocols[0]

// allProtocols adds Connect's JSON codec to protocols: the wire forms a
// client of any SDK may use.
var allProtocols = append(slices.Clip(protocols),
	protocol{name: "connect-json", opts: []connect.ClientOption{connect.WithProtoJSON()}})

// httpClient returns a client for p whose idle connections are closed at
// the end of the test (goleak checks for them).
func httpClient(t testing.TB, h2c bool) *http.Client {
	tr := &http.Transport{}
	if h2c {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

// clients bundles the generated clients of one node.
type clients struct {
	kv     norikvv1connect.KvClient
	meta   norikvv1connect.MetaClient
	admin  norikvv1connect.AdminClient
	vector norikvv1connect.VectorClient
}

func dial(t testing.TB, addr string, p protocol, extra ...connect.ClientOption) clients {
	t.Helper()
	hc := httpClient(t, p.h2c)
	url := "http://" + addr
	opts := append(append([]connect.ClientOption{}, p.opts...), extra...)
	return clients{
		kv:     norikvv1connect.NewKvClient(hc, url, opts...),
		meta:   norikvv1connect.NewMetaClient(hc, url, opts...),
		admin:  norikvv1connect.NewAdminClient(hc, url, opts...),
		vector: norikvv1connect.NewVectorClient(hc, url, opts...),
	}
}

// leaderOf dials the leader of key's shard over gRPC.
func leaderOf(t testing.TB, c *Cluster, key string) clients {
	t.Helper()
	return dial(t, c.Addr(c.Leader(c.ShardOf([]byte(key)))), grpcProto)
}

// followerOf returns a node holding a replica of key's shard that does not
// lead it.
func followerOf(t testing.TB, c *Cluster, key string) string {
	t.Helper()
	info := c.View().Shards[c.ShardOf([]byte(key))]
	for _, r := range info.Replicas {
		if !r.Leader {
			return r.NodeId
		}
	}
	t.Fatalf("shard of %q has no follower", key)
	return ""
}

// keysOnShard returns n distinct keys that hash to shard.
func keysOnShard(c *Cluster, shard uint32, n int) []string {
	var out []string
	for i := 0; len(out) < n; i++ {
		k := fmt.Sprintf("k%d", i)
		if c.ShardOf([]byte(k)) == shard {
			out = append(out, k)
		}
	}
	return out
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// wantCode fails unless err is a connect error with code, whose message
// contains every one of substrs.
func wantCode(t testing.TB, err error, code connect.Code, substrs ...string) *connect.Error {
	t.Helper()
	var ce *connect.Error
	if !errors.As(err, &ce) {
		t.Fatalf("got error %v, want code %v", err, code)
	}
	if ce.Code() != code {
		t.Fatalf("got code %v (%v), want %v", ce.Code(), ce.Message(), code)
	}
	for _, s := range substrs {
		if !strings.Contains(ce.Message(), s) {
			t.Fatalf("message %q does not contain %q", ce.Message(), s)
		}
	}
	return ce
}

func put(t testing.TB, kv norikvv1connect.KvClient, key, value string) *v1.Version {
	t.Helper()
	res, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte(key), Value: []byte(value)})
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	return res.Version
}
