package server

import (
	"fmt"
	"math"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

const (
	euclid = v1.DistanceFunction_DISTANCE_FUNCTION_EUCLIDEAN
	cosine = v1.DistanceFunction_DISTANCE_FUNCTION_COSINE
	brute  = v1.VectorIndexType_VECTOR_INDEX_TYPE_BRUTE_FORCE
	hnsw   = v1.VectorIndexType_VECTOR_INDEX_TYPE_HNSW
)

// vectorLeader dials the leader of namespace's shard.
func vectorLeader(t testing.TB, c *Cluster, ns string, p protocol) clients {
	t.Helper()
	return dial(t, c.Addr(c.Leader(c.ShardOf([]byte(ns)))), p)
}

func TestVectorCreateIndex(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 8})
	vc := vectorLeader(t, c, "docs", grpcProto).vector
	ctx := ctxT(t)
	req := &v1.CreateVectorIndexRequest{Namespace: "docs", Dimensions: 3, Distance: euclid, IndexType: brute}
	res, err := vc.CreateIndex(ctx, req)
	if err != nil || !res.Created {
		t.Fatalf("first create = %v, %v", res, err)
	}
	res, err = vc.CreateIndex(ctx, req)
	if err != nil || res.Created {
		t.Fatalf("identical create = %v, %v; want created=false", res, err)
	}
	for name, other := range map[string]*v1.CreateVectorIndexRequest{
		"dimensions": {Namespace: "docs", Dimensions: 4, Distance: euclid, IndexType: brute},
		"distance":   {Namespace: "docs", Dimensions: 3, Distance: cosine, IndexType: brute},
		"type":       {Namespace: "docs", Dimensions: 3, Distance: euclid, IndexType: hnsw},
	} {
		_, err := vc.CreateIndex(ctx, other)
		wantCode(t, err, connect.CodeAlreadyExists, "docs", "already exists", "dimensions=3")
		_ = name
	}
	if st := c.Stats(); st.VectorCreates != 1 {
		t.Fatalf("creates = %d", st.VectorCreates)
	}
}

func TestVectorNamespaceWithoutIndex(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	vc := vectorLeader(t, c, "none", grpcProto).vector
	ctx := ctxT(t)
	_, err := vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: "none", Id: "a", Vector: []float32{1}})
	wantCode(t, err, connect.CodeNotFound, "none")
	_, err = vc.Search(ctx, &v1.VectorSearchRequest{Namespace: "none", Query: []float32{1}, K: 1})
	wantCode(t, err, connect.CodeNotFound)
	_, err = vc.Get(ctx, &v1.VectorGetRequest{Namespace: "none", Id: "a"})
	wantCode(t, err, connect.CodeNotFound)
	_, err = vc.Delete(ctx, &v1.VectorDeleteRequest{Namespace: "none", Id: "a"})
	wantCode(t, err, connect.CodeNotFound)
	d, err := vc.DropIndex(ctx, &v1.DropVectorIndexRequest{Namespace: "none"})
	if err != nil || d.Dropped {
		t.Fatalf("drop of missing index = %v, %v", d, err)
	}
}

func TestVectorInsertSearchGetDelete(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 8})
	for _, kind := range []v1.VectorIndexType{brute, hnsw} {
		t.Run(kind.String(), func(t *testing.T) {
			ns := "ns-" + kind.String()
			vc := vectorLeader(t, c, ns, grpcProto).vector
			ctx := ctxT(t)
			if _, err := vc.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 2, Distance: euclid, IndexType: kind}); err != nil {
				t.Fatal(err)
			}
			var last uint64
			ins := func(id string, v ...float32) {
				t.Helper()
				res, err := vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: id, Vector: v})
				if err != nil || !res.Inserted || res.Version.Index <= last {
					t.Fatalf("insert %s = %v, %v", id, res, err)
				}
				last = res.Version.Index
			}
			// b and c tie at distance 1 from the origin; ties go by id.
			ins("c", 0, 1)
			ins("b", 1, 0)
			ins("a", 3, 0)
			ins("d", 5, 5)
			ins("a", 0.5, 0) // upsert: a is now nearest
			res, err := vc.Search(ctx, &v1.VectorSearchRequest{Namespace: ns, Query: []float32{0, 0}, K: 3, IncludeVectors: true})
			if err != nil {
				t.Fatal(err)
			}
			got := ids(res.Matches)
			if got != "a b c" {
				t.Fatalf("search = %s, want a b c", got)
			}
			if m := res.Matches[0]; m.Distance != 0.5 || len(m.Vector) != 2 || m.Vector[0] != 0.5 {
				t.Fatalf("first match %v", m)
			}
			if res.SearchTimeUs == 0 {
				t.Fatal("search_time_us not measured")
			}
			res, _ = vc.Search(ctx, &v1.VectorSearchRequest{Namespace: ns, Query: []float32{0, 0}, K: 10})
			if len(res.Matches) != 4 || len(res.Matches[0].Vector) != 0 {
				t.Fatalf("k > len: %v", res.Matches)
			}
			g, err := vc.Get(ctx, &v1.VectorGetRequest{Namespace: ns, Id: "d"})
			if err != nil || !g.Found || len(g.Vector) != 2 || g.Vector[1] != 5 {
				t.Fatalf("get d = %v, %v", g, err)
			}
			del, err := vc.Delete(ctx, &v1.VectorDeleteRequest{Namespace: ns, Id: "a"})
			if err != nil || !del.Deleted {
				t.Fatalf("delete a = %v, %v", del, err)
			}
			del, _ = vc.Delete(ctx, &v1.VectorDeleteRequest{Namespace: ns, Id: "a"})
			if del.GetDeleted() {
				t.Fatal("second delete reported deleted")
			}
			g, _ = vc.Get(ctx, &v1.VectorGetRequest{Namespace: ns, Id: "a"})
			if g.GetFound() || len(g.GetVector()) != 0 {
				t.Fatalf("deleted id found: %v", g)
			}
			res, _ = vc.Search(ctx, &v1.VectorSearchRequest{Namespace: ns, Query: []float32{0.5, 0}, K: 10})
			if got := ids(res.Matches); got != "b c d" {
				t.Fatalf("search after delete = %s, want b c d", got)
			}
			dr, err := vc.DropIndex(ctx, &v1.DropVectorIndexRequest{Namespace: ns})
			if err != nil || !dr.Dropped {
				t.Fatalf("drop = %v, %v", dr, err)
			}
			_, err = vc.Get(ctx, &v1.VectorGetRequest{Namespace: ns, Id: "b"})
			wantCode(t, err, connect.CodeNotFound)
		})
	}
}

// Deleted ids never come back, even after many inserts and deletes force
// the HNSW graph to be rebuilt.
func TestVectorDeletedNeverReturn(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	vc := vectorLeader(t, c, "churn", grpcProto).vector
	ctx := ctxT(t)
	if _, err := vc.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "churn", Dimensions: 4, Distance: cosine, IndexType: hnsw}); err != nil {
		t.Fatal(err)
	}
	deleted := map[string]bool{}
	for i := range 200 {
		id := fmt.Sprint("v", i)
		x := float32(i)
		if _, err := vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: "churn", Id: id, Vector: []float32{x, 1, x * x, 1}}); err != nil {
			t.Fatal(err)
		}
		if i%3 != 0 {
			if _, err := vc.Delete(ctx, &v1.VectorDeleteRequest{Namespace: "churn", Id: id}); err != nil {
				t.Fatal(err)
			}
			deleted[id] = true
		}
	}
	res, err := vc.Search(ctx, &v1.VectorSearchRequest{Namespace: "churn", Query: []float32{10, 1, 100, 1}, K: 1024})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Matches) != 67 {
		t.Fatalf("%d matches, want the 67 live vectors", len(res.Matches))
	}
	for i, m := range res.Matches {
		if deleted[m.Id] {
			t.Fatalf("deleted id %s returned", m.Id)
		}
		if i > 0 && (m.Distance < res.Matches[i-1].Distance ||
			m.Distance == res.Matches[i-1].Distance && m.Id < res.Matches[i-1].Id) {
			t.Fatalf("matches not sorted at %d: %v", i, res.Matches[i-1:i+1])
		}
	}
}

func TestVectorInvalidInput(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	vc := vectorLeader(t, c, "v", grpcProto).vector
	ctx := ctxT(t)
	if _, err := vc.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "v", Dimensions: 3, Distance: euclid, IndexType: brute}); err != nil {
		t.Fatal(err)
	}
	_, err := vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: "v", Id: "a", Vector: []float32{1, 2}})
	wantCode(t, err, connect.CodeInvalidArgument, "vector", "2", "3")
	_, err = vc.Search(ctx, &v1.VectorSearchRequest{Namespace: "v", Query: []float32{1, 2, 3, 4}, K: 1})
	wantCode(t, err, connect.CodeInvalidArgument, "query", "4", "3")
	_, err = vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: "v", Id: "a", Vector: []float32{1, float32(math.Inf(1)), 2}})
	wantCode(t, err, connect.CodeInvalidArgument, "finite")
	// Direct calls skip the interceptor; the engine still refuses NaN.
	_, err = (&vectorService{c: c}).Insert(ctx, &v1.VectorInsertRequest{Namespace: "v", Id: "a", Vector: []float32{1, float32(math.NaN()), 2}})
	wantCode(t, err, connect.CodeInvalidArgument)
	if st := c.Stats(); st.VectorInserts != 0 {
		t.Fatalf("inserts = %d", st.VectorInserts)
	}
}

func TestVectorIdempotencyAndVersions(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	vc := vectorLeader(t, c, "v", grpcProto).vector
	kv := leaderOf(t, c, "k").kv
	ctx := ctxT(t)
	create := &v1.CreateVectorIndexRequest{Namespace: "v", Dimensions: 1, Distance: euclid, IndexType: brute, IdempotencyKey: "c1"}
	if r, _ := vc.CreateIndex(ctx, create); !r.GetCreated() {
		t.Fatal("not created")
	}
	if r, err := vc.CreateIndex(ctx, create); err != nil || !r.Created {
		t.Fatalf("create replay = %v, %v; want the first result (created)", r, err)
	}
	pv := put(t, kv, "k", "v") // KV and vector writes share the shard log
	ins := &v1.VectorInsertRequest{Namespace: "v", Id: "a", Vector: []float32{1}, IdempotencyKey: "i1"}
	r1, err := vc.Insert(ctx, ins)
	if err != nil || r1.Version.Index <= pv.Index {
		t.Fatalf("insert = %v, %v (put was %v)", r1, err, pv)
	}
	r2, err := vc.Insert(ctx, ins)
	if err != nil || !proto.Equal(r1.Version, r2.Version) {
		t.Fatalf("insert replay = %v, %v; first %v", r2, err, r1)
	}
	_, err = vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: "v", Id: "a", Vector: []float32{2}, IdempotencyKey: "i1"})
	wantCode(t, err, connect.CodeInvalidArgument, "idempotency key")
	_, err = vc.Delete(ctx, &v1.VectorDeleteRequest{Namespace: "v", Id: "a", IdempotencyKey: "i1"})
	wantCode(t, err, connect.CodeInvalidArgument, "idempotency key")
	del := &v1.VectorDeleteRequest{Namespace: "v", Id: "a", IdempotencyKey: "d1"}
	for range 2 {
		if r, err := vc.Delete(ctx, del); err != nil || !r.Deleted {
			t.Fatalf("delete (or replay) = %v, %v", r, err)
		}
	}
	drop := &v1.DropVectorIndexRequest{Namespace: "v", IdempotencyKey: "x1"}
	for range 2 {
		if r, err := vc.DropIndex(ctx, drop); err != nil || !r.Dropped {
			t.Fatalf("drop (or replay) = %v, %v", r, err)
		}
	}
	st := c.Stats()
	if st.VectorCreates != 1 || st.VectorInserts != 1 || st.VectorDeletes != 1 || st.VectorDrops != 1 || st.IdempotentReplays != 4 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestVectorRoutingAndProtocols(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 8})
	ns := "routed"
	follower := followerOf(t, c, ns)
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			ctx := ctxT(t)
			lead := vectorLeader(t, c, ns, p).vector
			if _, err := lead.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 2, Distance: euclid, IndexType: brute}); err != nil {
				t.Fatal(err)
			}
			if _, err := lead.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: p.name, Vector: []float32{1, 2}}); err != nil {
				t.Fatal(err)
			}
			fol := dial(t, c.Addr(follower), p).vector
			_, err := fol.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: "x", Vector: []float32{1, 2}})
			if h, ok := wire.ParseNotLeader(err); !ok || h.LeaderID != c.Leader(c.ShardOf([]byte(ns))) {
				t.Fatalf("insert on follower = %v", err)
			}
			_, err = fol.Search(ctx, &v1.VectorSearchRequest{Namespace: ns, Query: []float32{1, 2}, K: 1})
			if _, ok := wire.ParseNotLeader(err); !ok {
				t.Fatalf("leader search on follower = %v", err)
			}
			res, err := fol.Search(ctx, &v1.VectorSearchRequest{Namespace: ns, Query: []float32{1, 2}, K: 5, Consistency: "stale_ok"})
			if err != nil || len(res.Matches) == 0 {
				t.Fatalf("stale search on follower = %v, %v", res, err)
			}
			g, err := fol.Get(ctx, &v1.VectorGetRequest{Namespace: ns, Id: p.name, Consistency: "eventual"})
			if err != nil || !g.Found {
				t.Fatalf("stale get on follower = %v, %v", g, err)
			}
		})
	}
}

func ids(ms []*v1.VectorMatch) string {
	s := ""
	for i, m := range ms {
		if i > 0 {
			s += " "
		}
		s += m.Id
	}
	return s
}

// Components beyond ±1e10 are refused, so float32 distances cannot
// overflow (issue 13: two orthogonal vectors of 2e19 had cosine distance 0
// and a Euclidean distance of +Inf). At the bound, distances stay finite
// even over 4096 dimensions.
func TestVectorMagnitudeBound(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	ctx := ctxT(t)
	for _, p := range allProtocols {
		t.Run(p.name, func(t *testing.T) {
			vc := vectorLeader(t, c, "m", p).vector
			for _, d := range []v1.DistanceFunction{euclid, cosine} {
				ns := fmt.Sprint("m-", p.name, "-", d)
				if _, err := vc.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 2, Distance: d, IndexType: brute}); err != nil {
					t.Fatal(err)
				}
				_, err := vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: "x", Vector: []float32{2e19, 0}})
				wantCode(t, err, connect.CodeInvalidArgument, "vector[0]", "10000000000")
				_, err = vc.Search(ctx, &v1.VectorSearchRequest{Namespace: ns, Query: []float32{0, 2e19}, K: 1})
				wantCode(t, err, connect.CodeInvalidArgument, "query[1]", "10000000000")

				if _, err := vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: "x", Vector: []float32{1e10, 0}}); err != nil {
					t.Fatal(err)
				}
				res, err := vc.Search(ctx, &v1.VectorSearchRequest{Namespace: ns, Query: []float32{0, -1e10}, K: 1})
				if err != nil || len(res.Matches) != 1 {
					t.Fatalf("search at the bound = %v, %v", res, err)
				}
				want := map[v1.DistanceFunction]float64{euclid: math.Sqrt2 * 1e10, cosine: 1}[d]
				if got := float64(res.Matches[0].Distance); math.IsInf(got, 0) || math.Abs(got-want) > want*1e-6 {
					t.Fatalf("%v distance of orthogonal vectors at 1e10 = %g, want %g", d, got, want)
				}
			}
		})
	}
	// Worst case: 4096 dimensions of opposite components at the bound.
	vc := vectorLeader(t, c, "wide", grpcProto).vector
	if _, err := vc.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "wide", Dimensions: 4096, Distance: euclid, IndexType: brute}); err != nil {
		t.Fatal(err)
	}
	a, b := make([]float32, 4096), make([]float32, 4096)
	for i := range a {
		a[i], b[i] = 1e10, -1e10
	}
	if _, err := vc.Insert(ctx, &v1.VectorInsertRequest{Namespace: "wide", Id: "a", Vector: a}); err != nil {
		t.Fatal(err)
	}
	res, err := vc.Search(ctx, &v1.VectorSearchRequest{Namespace: "wide", Query: b, K: 1})
	if err != nil || len(res.Matches) != 1 || math.IsInf(float64(res.Matches[0].Distance), 0) {
		t.Fatalf("4096-dimension search at the bound = %v, %v; want a finite distance", res, err)
	}
}
