package server

import (
	"net"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

// TestUpstreamSDKRequests sends the exact requests the upstream Go, Python
// and TypeScript SDKs send, with nothing but the generated clients, and
// shows the server accepts every one of them: Get with the consistency
// spellings "lease", "linearizable" and "stale_ok"; vector Search and Get
// with no consistency field; and a write sent to a follower, then re-sent
// to whatever host:port the reply's leader-hint header names, dialled as an
// address, as those SDKs do.
func TestUpstreamSDKRequests(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 16})
	key, ns := "upstream:key", "upstream-ns"
	for _, p := range allProtocols {
		t.Run(p.name, func(t *testing.T) {
			ctx := ctxT(t)
			leader := dial(t, c.Addr(c.Leader(c.ShardOf([]byte(key)))), p)
			follower := dial(t, c.Addr(followerOf(t, c, key)), p)
			put(t, leader.kv, key, "v-"+p.name)
			for _, cons := range []string{"lease", "linearizable", "stale_ok"} {
				got, err := leader.kv.Get(ctx, &v1.GetRequest{Key: []byte(key), Consistency: cons})
				if err != nil || string(got.Value) != "v-"+p.name || got.Version == nil {
					t.Errorf("get %q = %v, %v", cons, got, err)
				}
			}
			if got, err := follower.kv.Get(ctx, &v1.GetRequest{Key: []byte(key), Consistency: "stale_ok"}); err != nil || string(got.Value) != "v-"+p.name {
				t.Errorf("stale_ok get on a follower = %v, %v", got, err)
			}

			vl := dial(t, c.Addr(c.Leader(c.ShardOf([]byte(ns)))), p).vector
			if _, err := vl.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 2, Distance: euclid, IndexType: brute}); err != nil {
				t.Fatal(err)
			}
			if _, err := vl.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: p.name, Vector: []float32{1, 2}}); err != nil {
				t.Fatal(err)
			}
			if res, err := vl.Search(ctx, &v1.VectorSearchRequest{Namespace: ns, Query: []float32{1, 2}, K: 1}); err != nil || len(res.Matches) != 1 {
				t.Errorf("search without consistency = %v, %v", res, err)
			}
			if res, err := vl.Get(ctx, &v1.VectorGetRequest{Namespace: ns, Id: p.name}); err != nil || !res.Found {
				t.Errorf("vector get without consistency = %v, %v", res, err)
			}

			// A write to a follower, then to the address in leader-hint.
			_, err := follower.kv.Put(ctx, &v1.PutRequest{Key: []byte(key), Value: []byte("redirected")})
			hint := leaderHint(t, err)
			res, err := dial(t, hint, p).kv.Put(ctx, &v1.PutRequest{Key: []byte(key), Value: []byte("redirected")})
			if err != nil || res.Version == nil {
				t.Fatalf("put re-sent to leader-hint %s = %v, %v", hint, res, err)
			}
			vf := dial(t, c.Addr(followerOf(t, c, ns)), p).vector
			_, err = vf.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: "r", Vector: []float32{3, 4}})
			hint = leaderHint(t, err)
			if _, err := dial(t, hint, p).vector.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: "r", Vector: []float32{3, 4}}); err != nil {
				t.Fatalf("vector insert re-sent to leader-hint %s: %v", hint, err)
			}
			if _, err := vl.DropIndex(ctx, &v1.DropVectorIndexRequest{Namespace: ns}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// leaderHint returns the leader-hint header of a NOT_LEADER reply, as an
// upstream SDK reads it, and checks it is a dialable host:port.
func leaderHint(t *testing.T, err error) string {
	t.Helper()
	ce := wantCode(t, err, connect.CodeUnavailable, wire.NotLeaderPrefix)
	hint := ce.Meta().Get(wire.HeaderLeaderHint)
	if _, _, serr := net.SplitHostPort(hint); serr != nil {
		t.Fatalf("leader-hint %q is not host:port: %v", hint, serr)
	}
	return hint
}
