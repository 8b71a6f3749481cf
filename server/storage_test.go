package server

import (
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

func getKey(t *testing.T, c *Cluster, key string) *v1.GetResponse {
	t.Helper()
	res, err := leaderOf(t, c, key).kv.Get(ctxT(t), &v1.GetRequest{Key: []byte(key)})
	if err != nil {
		t.Fatalf("get %q: %v", key, err)
	}
	return res
}

// Durable mode keeps keys, versions, TTL deadlines, idempotency entries and
// vectors across a restart; versions go on growing.
func TestDataDirSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Nodes: 3, Shards: 8, DataDir: dir}
	c1, _ := startTest(t, cfg)
	kv := func(c *Cluster, key string) clients { return leaderOf(t, c, key) }
	va := put(t, kv(c1, "a").kv, "a", "alpha")
	if _, err := kv(c1, "b").kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("b"), Value: []byte("beta"), TtlMs: 3600_000}); err != nil {
		t.Fatal(err)
	}
	if _, err := kv(c1, "c").kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("c"), Value: []byte("gone"), TtlMs: 1}); err != nil {
		t.Fatal(err)
	}
	put(t, kv(c1, "d").kv, "d", "deleted")
	if _, err := kv(c1, "d").kv.Delete(ctxT(t), &v1.DeleteRequest{Key: []byte("d")}); err != nil {
		t.Fatal(err)
	}
	idem := &v1.PutRequest{Key: []byte("e"), Value: []byte("once"), IdempotencyKey: "op-1"}
	first, err := kv(c1, "e").kv.Put(ctxT(t), idem)
	if err != nil {
		t.Fatal(err)
	}
	vc := dial(t, c1.Addr(c1.Leader(c1.shardForString("docs").id)), grpcProto).vector
	if _, err := vc.CreateIndex(ctxT(t), &v1.CreateVectorIndexRequest{Namespace: "docs", Dimensions: 2, Distance: v1.DistanceFunction_DISTANCE_FUNCTION_EUCLIDEAN, IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_HNSW}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"x", "y", "z"} {
		if _, err := vc.Insert(ctxT(t), &v1.VectorInsertRequest{Namespace: "docs", Id: id, Vector: []float32{float32(i), 1}}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := vc.Delete(ctxT(t), &v1.VectorDeleteRequest{Namespace: "docs", Id: "y"}); err != nil {
		t.Fatal(err)
	}
	if err := c1.TransferLeader(0, "n2"); err != nil {
		t.Fatal(err)
	}
	epoch, inc1 := c1.View().Epoch, c1.View().GetIncarnation()
	time.Sleep(2 * time.Millisecond) // c's 1 ms TTL runs out in wall-clock time
	c1.Close()

	c2, _ := startTest(t, cfg)
	if got := c2.View().Epoch; got <= epoch {
		t.Fatalf("view epoch after restart %d, not above %d: clients that ignore incarnations would ignore the new views", got, epoch)
	}
	// Every start is a new incarnation; the data dir keeps the cluster id.
	id1, run1, _ := strings.Cut(inc1, ".")
	id2, run2, _ := strings.Cut(c2.View().GetIncarnation(), ".")
	if id1 == "" || run1 == "" || id1 != id2 || run1 == run2 {
		t.Fatalf("incarnations %q then %q: want the same cluster id and another run", inc1, c2.View().GetIncarnation())
	}
	if got := getKey(t, c2, "a"); string(got.Value) != "alpha" || got.Version.GetTerm() != va.Term || got.Version.GetIndex() != va.Index {
		t.Fatalf("after restart a = %q %v, want alpha %v", got.Value, got.Version, va)
	}
	if got := getKey(t, c2, "b"); string(got.Value) != "beta" {
		t.Fatalf("after restart b (1 h TTL) = %q, want beta", got.Value)
	}
	if got := getKey(t, c2, "c"); got.Version != nil {
		t.Fatalf("after restart c, expired while down, is back: %v", got.Version)
	}
	if got := getKey(t, c2, "d"); got.Version != nil {
		t.Fatalf("after restart the deleted d is back: %v", got.Version)
	}
	replay, err := kv(c2, "e").kv.Put(ctxT(t), idem)
	if err != nil || replay.Version.GetIndex() != first.Version.Index || replay.Version.GetTerm() != first.Version.Term {
		t.Fatalf("idempotent replay after restart = %v, %v; want the first version %v", replay.GetVersion(), err, first.Version)
	}
	va2 := put(t, kv(c2, "a").kv, "a", "alpha2")
	if va2.Term <= va.Term || va2.Index <= va.Index {
		t.Fatalf("version after restart %v does not grow past %v", va2, va)
	}
	vc2 := dial(t, c2.Addr(c2.Leader(c2.shardForString("docs").id)), grpcProto).vector
	res, err := vc2.Search(ctxT(t), &v1.VectorSearchRequest{Namespace: "docs", Query: []float32{2, 1}, K: 5})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matches) != 2 || res.Matches[0].Id != "z" || res.Matches[1].Id != "x" {
		t.Fatalf("vector search after restart = %v, want z, x", res.Matches)
	}
	c2.Close()

	_, err = start0(Config{Nodes: 3, Shards: 16, DataDir: dir}, (&fakeClock{}).now)
	if err == nil || !strings.Contains(err.Error(), "shards=8") {
		t.Fatalf("starting another shape on the data dir: %v, want an error naming shards=8", err)
	}
}

// A write that cannot be made durable is never acknowledged, and the
// cluster stops serving rather than show it.
func TestDataDirWriteFailureStopsServing(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, DataDir: t.TempDir()})
	kv := leaderOf(t, c, "k").kv
	put(t, kv, "k", "durable")
	c.store.db.Close() // every later transaction fails
	if res, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("lost")}); err == nil {
		t.Fatalf("a write that did not reach the disk was acknowledged at %v", res.Version)
	}
	_, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte("k")})
	wantCode(t, err, connect.CodeUnavailable, "storage failed")
}
