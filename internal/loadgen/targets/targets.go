// Package targets adapts raw NoriKV clients to loadgen.Target: the
// generated Connect client with a hand-written routing table (what a user
// without the SDK would write). The benchmark module adds grpc-go.
//
// The SDK's own adapter lives with its callers (cmd/norikv's bench,
// bench/cmd/compare): this package sits below the SDK and does not import
// it.
package targets

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/loadgen"
	"github.com/norikv/norikv-go/internal/routing"
)

// Table maps a key to the address of its shard's leader, fixed at creation:
// the routing a user of a raw client would hand-write for a static
// cluster.
type Table struct {
	shards int
	leader []int    // shard → index into Addrs
	Addrs  []string // distinct leader addresses
}

// NewTable builds a Table from a cluster view.
func NewTable(view *v1.ClusterView) (*Table, error) {
	addrOf := map[string]string{}
	for _, n := range view.GetNodes() {
		addrOf[n.GetId()] = n.GetAddr()
	}
	t := &Table{shards: len(view.GetShards())}
	idx := map[string]int{}
	t.leader = make([]int, t.shards)
	for _, s := range view.GetShards() {
		var leader string
		for _, r := range s.GetReplicas() {
			if r.GetLeader() {
				leader = addrOf[r.GetNodeId()]
			}
		}
		if leader == "" {
			return nil, fmt.Errorf("shard %d has no leader", s.GetId())
		}
		i, ok := idx[leader]
		if !ok {
			i = len(t.Addrs)
			idx[leader] = i
			t.Addrs = append(t.Addrs, leader)
		}
		if int(s.GetId()) >= t.shards {
			return nil, fmt.Errorf("shard id %d out of range", s.GetId())
		}
		t.leader[s.GetId()] = i
	}
	return t, nil
}

// Shards is the number of shards.
func (t *Table) Shards() int { return t.shards }

// Index returns the index in Addrs of key's leader.
func (t *Table) Index(key string) int { return t.leader[routing.ShardString(key, t.shards)] }

// RawTransport is what a raw generated client needs to speak a protocol
// as the SDK does by default: a pooled transport (h2c for gRPC, HTTP/1.1
// otherwise) and the client options (protocol, the SDK's compression
// threshold). protocol is named as norikv.Protocol.String names it:
// "grpc" (also ""), "connect" or "grpcweb" (also "grpc-web"). Close the transport's
// idle connections when done.
func RawTransport(protocol string) (*http.Transport, []connect.ClientOption, error) {
	var protos http.Protocols
	opts := []connect.ClientOption{connect.WithCompressMinBytes(1024)}
	switch strings.ToLower(protocol) {
	case "grpc", "":
		protos.SetUnencryptedHTTP2(true)
		opts = append(opts, connect.WithGRPC())
	case "grpcweb", "grpc-web":
		protos.SetHTTP1(true)
		opts = append(opts, connect.WithGRPCWeb())
	case "connect":
		protos.SetHTTP1(true)
	default:
		return nil, nil, fmt.Errorf("unknown protocol %q (want grpc, connect or grpcweb)", protocol)
	}
	return &http.Transport{Protocols: &protos, MaxIdleConnsPerHost: 64, DisableCompression: true}, opts, nil
}

var _ loadgen.Target = (*Raw)(nil)

// Raw is the generated Connect KvClient, one per leader, routed by a
// Table: no validation, retries, idempotency keys or error mapping.
type Raw struct {
	t       *Table
	clients []norikvv1connect.KvClient
	tr      *http.Transport
}

// NewRaw returns a raw Connect target speaking protocol (named as for
// RawTransport) over its own pooled transport (h2c for gRPC, HTTP/1.1
// otherwise, as the SDK's HTTPAuto), with the SDK's compression setting.
func NewRaw(t *Table, protocol string) (*Raw, error) {
	tr, opts, err := RawTransport(protocol)
	if err != nil {
		return nil, err
	}
	r := &Raw{t: t, tr: tr}
	hc := &http.Client{Transport: tr}
	for _, a := range t.Addrs {
		r.clients = append(r.clients, norikvv1connect.NewKvClient(hc, "http://"+a, opts...))
	}
	return r, nil
}

// Close closes idle connections.
func (r *Raw) Close() { r.tr.CloseIdleConnections() }

// Put writes value under key on the key's node, with no idempotency key.
func (r *Raw) Put(ctx context.Context, key string, value []byte) error {
	_, err := r.clients[r.t.Index(key)].Put(ctx, &v1.PutRequest{Key: []byte(key), Value: value})
	return err
}

// Get reads key from its node; found is false for a missing key.
func (r *Raw) Get(ctx context.Context, key string) (bool, error) {
	res, err := r.clients[r.t.Index(key)].Get(ctx, &v1.GetRequest{Key: []byte(key)})
	if connect.CodeOf(err) == connect.CodeNotFound {
		return false, nil
	}
	return err == nil && res.GetVersion() != nil, err
}
