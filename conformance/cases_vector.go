package conformance

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

func vectorCases() []caseDef {
	return []caseDef{
		{name: "vector_index", run: caseVectorIndex},
		{name: "vector_data", run: caseVectorData},
		{name: "vector_search", run: caseVectorSearch},
	}
}

// skipVector turns the target's UNIMPLEMENTED into a skip: a server
// without vectors is not broken, but it has not shown it conforms either.
func skipVector() error {
	// The message differs by protocol (a 404 on Connect, grpc-status on
	// gRPC); the code is what matters, and one reason groups better.
	return skipf("target does not implement norikv.v1.Vector (UNIMPLEMENTED)")
}

func (c *cell) vinsert(req *v1.VectorInsertRequest) (resp *v1.VectorInsertResponse, err error) {
	err = c.routed([]byte(req.GetNamespace()), func(cl *clients) error {
		resp, err = cl.vector.Insert(c.ctx, req)
		return err
	})
	return resp, err
}

func (c *cell) vsearch(req *v1.VectorSearchRequest) (resp *v1.VectorSearchResponse, err error) {
	err = c.routed([]byte(req.GetNamespace()), func(cl *clients) error {
		resp, err = cl.vector.Search(c.ctx, req)
		return err
	})
	return resp, err
}

func (c *cell) vget(req *v1.VectorGetRequest) (resp *v1.VectorGetResponse, err error) {
	err = c.routed([]byte(req.GetNamespace()), func(cl *clients) error {
		resp, err = cl.vector.Get(c.ctx, req)
		return err
	})
	return resp, err
}

func (c *cell) vdelete(req *v1.VectorDeleteRequest) (resp *v1.VectorDeleteResponse, err error) {
	err = c.routed([]byte(req.GetNamespace()), func(cl *clients) error {
		resp, err = cl.vector.Delete(c.ctx, req)
		return err
	})
	return resp, err
}

func (c *cell) vdrop(req *v1.DropVectorIndexRequest) (resp *v1.DropVectorIndexResponse, err error) {
	err = c.routed([]byte(req.GetNamespace()), func(cl *clients) error {
		resp, err = cl.vector.DropIndex(c.ctx, req)
		return err
	})
	return resp, err
}

const (
	euclidean    = v1.DistanceFunction_DISTANCE_FUNCTION_EUCLIDEAN
	cosine       = v1.DistanceFunction_DISTANCE_FUNCTION_COSINE
	innerProduct = v1.DistanceFunction_DISTANCE_FUNCTION_INNER_PRODUCT
	bruteForce   = v1.VectorIndexType_VECTOR_INDEX_TYPE_BRUTE_FORCE
	hnsw         = v1.VectorIndexType_VECTOR_INDEX_TYPE_HNSW
)

// caseVectorIndex: the index life cycle. A namespace without an index is
// NOT_FOUND for every data call; create is idempotent for the same
// configuration and ALREADY_EXISTS for another.
func caseVectorIndex(c *cell) error {
	ns := c.ns("idx")
	var p problems
	_, err := c.vsearch(&v1.VectorSearchRequest{Namespace: ns, Query: []float32{1, 2, 3}, K: 1})
	if isUnimplemented(err) {
		return skipVector()
	}
	p.add(wantCode(err, connect.CodeNotFound, "search in a namespace without an index"))
	_, err = c.vinsert(&v1.VectorInsertRequest{Namespace: ns, Id: "a", Vector: []float32{1, 2, 3}})
	p.add(wantCode(err, connect.CodeNotFound, "insert into a namespace without an index"))
	_, err = c.vget(&v1.VectorGetRequest{Namespace: ns, Id: "a"})
	p.add(wantCode(err, connect.CodeNotFound, "get from a namespace without an index"))
	_, err = c.vdelete(&v1.VectorDeleteRequest{Namespace: ns, Id: "a"})
	p.add(wantCode(err, connect.CodeNotFound, "delete from a namespace without an index"))

	cfg := &v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 3, Distance: euclidean, IndexType: bruteForce}
	created, err := c.createIndex(cfg)
	if err != nil {
		return fmt.Errorf("create index: %s", describe(err))
	}
	if !created {
		p.addf("first create: created = false, want true")
	}
	created, err = c.createIndex(cfg)
	if err != nil {
		p.addf("create again with the same configuration: want OK, got %s", describe(err))
	} else if created {
		p.addf("create again with the same configuration: created = true, want false")
	}
	for what, other := range map[string]*v1.CreateVectorIndexRequest{
		"other dimensions": {Namespace: ns, Dimensions: 4, Distance: euclidean, IndexType: bruteForce},
		"other distance":   {Namespace: ns, Dimensions: 3, Distance: cosine, IndexType: bruteForce},
		"other index type": {Namespace: ns, Dimensions: 3, Distance: euclidean, IndexType: hnsw},
	} {
		_, err := c.createIndex(other)
		p.add(wantCode(err, connect.CodeAlreadyExists, "create with "+what))
	}

	if _, err := c.vinsert(&v1.VectorInsertRequest{Namespace: ns, Id: "a", Vector: []float32{1, 2, 3}}); err != nil {
		p.addf("insert: %s", describe(err))
	}
	dr, err := c.vdrop(&v1.DropVectorIndexRequest{Namespace: ns})
	if err != nil {
		return fmt.Errorf("drop: %s", describe(err))
	}
	if !dr.GetDropped() {
		p.addf("drop of an existing index: dropped = false, want true")
	}
	dr, err = c.vdrop(&v1.DropVectorIndexRequest{Namespace: ns})
	if err != nil {
		p.addf("second drop: want OK, got %s", describe(err))
	} else if dr.GetDropped() {
		p.addf("second drop: dropped = true, want false")
	}
	_, err = c.vget(&v1.VectorGetRequest{Namespace: ns, Id: "a"})
	p.add(wantCode(err, connect.CodeNotFound, "get after drop"))
	// Re-creating after a drop starts empty.
	if _, err := c.createIndex(cfg); err != nil {
		p.addf("create after drop: %s", describe(err))
	} else if g, err := c.vget(&v1.VectorGetRequest{Namespace: ns, Id: "a"}); err != nil || g.GetFound() {
		p.addf("get in a re-created index: want found = false, got %s found=%v", describe(err), g.GetFound())
	}
	return p.err()
}

// caseVectorData: insert, get, replace, delete, and the dimension check,
// on both index types: deletion is where graph indexes go wrong.
func caseVectorData(c *cell) error {
	var p problems
	for _, t := range []v1.VectorIndexType{bruteForce, hnsw} {
		name := shortEnum(t.String(), "VECTOR_INDEX_TYPE_")
		err := vectorDataOn(c, c.ns("data-"+name), t)
		if _, ok := errors.AsType[skipError](err); ok {
			return err
		}
		if err != nil {
			p.addf("%s: %s", name, indent(err.Error()))
		}
	}
	return p.err()
}

func vectorDataOn(c *cell, ns string, t v1.VectorIndexType) error {
	created, err := c.createIndex(&v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 3, Distance: euclidean, IndexType: t})
	if isUnimplemented(err) {
		return skipVector()
	}
	if err != nil || !created {
		return fmt.Errorf("create index: want created, got %s created=%v", describe(err), created)
	}
	var p problems
	vecs := map[string][]float32{"a": {1, 0, 0}, "b": {0, 1, 0}, "c": {0, 0, 1}}
	for _, id := range []string{"a", "b", "c"} {
		r, err := c.vinsert(&v1.VectorInsertRequest{Namespace: ns, Id: id, Vector: vecs[id]})
		if err != nil {
			return fmt.Errorf("insert %q: %s", id, describe(err))
		}
		if !r.GetInserted() || r.GetVersion() == nil {
			p.addf("insert %q: inserted=%v version=%s, want true and a version", id, r.GetInserted(), fmtVersion(r.GetVersion()))
		}
	}
	g, err := c.vget(&v1.VectorGetRequest{Namespace: ns, Id: "a"})
	if err != nil || !g.GetFound() || !slices.Equal(g.GetVector(), vecs["a"]) {
		p.addf("get \"a\": want found %v, got %s found=%v vector=%v", vecs["a"], describe(err), g.GetFound(), g.GetVector())
	}
	g, err = c.vget(&v1.VectorGetRequest{Namespace: ns, Id: "missing"})
	if err != nil || g.GetFound() || len(g.GetVector()) != 0 {
		p.addf("get of a missing id: want OK found=false and no vector, got %s found=%v vector=%v", describe(err), g.GetFound(), g.GetVector())
	}
	// Insert replaces.
	if _, err := c.vinsert(&v1.VectorInsertRequest{Namespace: ns, Id: "a", Vector: []float32{2, 2, 2}}); err != nil {
		p.addf("re-insert \"a\": %s", describe(err))
	} else if g, err := c.vget(&v1.VectorGetRequest{Namespace: ns, Id: "a"}); err != nil || !slices.Equal(g.GetVector(), []float32{2, 2, 2}) {
		p.addf("get after re-insert: want [2 2 2], got %s %v", describe(err), g.GetVector())
	}
	// Wrong dimensions.
	_, err = c.vinsert(&v1.VectorInsertRequest{Namespace: ns, Id: "d", Vector: []float32{1, 2}})
	p.add(wantCode(err, connect.CodeInvalidArgument, "insert with 2 components into a 3-dimensional index"))
	_, err = c.vsearch(&v1.VectorSearchRequest{Namespace: ns, Query: []float32{1, 2, 3, 4}, K: 1})
	p.add(wantCode(err, connect.CodeInvalidArgument, "search with 4 components in a 3-dimensional index"))

	dr, err := c.vdelete(&v1.VectorDeleteRequest{Namespace: ns, Id: "b"})
	if err != nil || !dr.GetDeleted() {
		p.addf("delete \"b\": want deleted, got %s deleted=%v", describe(err), dr.GetDeleted())
	}
	dr, err = c.vdelete(&v1.VectorDeleteRequest{Namespace: ns, Id: "b"})
	if err != nil || dr.GetDeleted() {
		p.addf("delete \"b\" again: want OK deleted=false, got %s deleted=%v", describe(err), dr.GetDeleted())
	}
	if g, err := c.vget(&v1.VectorGetRequest{Namespace: ns, Id: "b"}); err != nil || g.GetFound() {
		p.addf("get of a deleted id: want found=false, got %s found=%v", describe(err), g.GetFound())
	}
	// The deleted vector equals the query: it must still never come back.
	s, err := c.vsearch(&v1.VectorSearchRequest{Namespace: ns, Query: vecs["b"], K: 10})
	if err != nil {
		p.addf("search after delete: %s", describe(err))
	} else {
		for _, m := range s.GetMatches() {
			if m.GetId() == "b" {
				p.addf("search after delete returned the deleted id \"b\"")
			}
		}
		if len(s.GetMatches()) != 2 {
			p.addf("search after delete: %d matches, want the 2 live vectors", len(s.GetMatches()))
		}
	}
	return p.err()
}

// point is a stored vector of the search case.
type point struct {
	id  string
	vec []float32
}

// searchPoints is a small fixed set with two exact ties ("t1" and "t2" are
// equal, inserted in reverse id order) so tie-breaking by id is visible.
var searchPoints = []point{
	{"p1", []float32{1, 0, 0, 0}},
	{"p2", []float32{0.5, 0.5, 0, 0}},
	{"p3", []float32{0, 1, 0, 0}},
	{"p4", []float32{-1, 0.2, 0.3, 0}},
	{"t2", []float32{0.3, 0.1, 0.8, 0.2}},
	{"t1", []float32{0.3, 0.1, 0.8, 0.2}},
	{"p5", []float32{0.9, -0.4, 0.1, 0.5}},
	{"p6", []float32{0.2, 0.2, 0.2, 0.9}},
}

var searchQuery = []float32{0.4, 0.1, 0.7, 0.1}

// refDistance is the contract's distance, computed in float64.
func refDistance(f v1.DistanceFunction, a, b []float32) float64 {
	var dot, na, nb, l2 float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
		l2 += (x - y) * (x - y)
	}
	switch f {
	case euclidean:
		return math.Sqrt(l2)
	case cosine:
		return 1 - dot/(math.Sqrt(na)*math.Sqrt(nb))
	default:
		return -dot
	}
}

// caseVectorSearch: for each distance function, exact (brute force)
// search returns the k nearest by distance ascending, ties by id, with the
// contract's distance values; include_vectors controls whether vectors
// come back. HNSW is checked for order and distance values only, since it
// may legitimately miss a neighbour.
func caseVectorSearch(c *cell) error {
	var p problems
	type variant struct {
		f     v1.DistanceFunction
		t     v1.VectorIndexType
		exact bool
	}
	for _, v := range []variant{{euclidean, bruteForce, true}, {cosine, bruteForce, true}, {innerProduct, bruteForce, true}, {euclidean, hnsw, false}} {
		name := shortEnum(v.f.String(), "DISTANCE_FUNCTION_") + "/" + shortEnum(v.t.String(), "VECTOR_INDEX_TYPE_")
		ns := c.ns(name)
		created, err := c.createIndex(&v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 4, Distance: v.f, IndexType: v.t})
		if isUnimplemented(err) {
			return skipVector()
		}
		if err != nil || !created {
			p.addf("%s: create index: want created, got %s created=%v", name, describe(err), created)
			continue
		}
		for _, pt := range searchPoints {
			if _, err := c.vinsert(&v1.VectorInsertRequest{Namespace: ns, Id: pt.id, Vector: pt.vec}); err != nil {
				p.addf("%s: insert %q: %s", name, pt.id, describe(err))
			}
		}
		const k = 6
		want := slices.Clone(searchPoints)
		slices.SortStableFunc(want, func(a, b point) int {
			return cmp.Or(cmp.Compare(refDistance(v.f, searchQuery, a.vec), refDistance(v.f, searchQuery, b.vec)), cmp.Compare(a.id, b.id))
		})
		want = want[:k]

		s, err := c.vsearch(&v1.VectorSearchRequest{Namespace: ns, Query: searchQuery, K: k, IncludeVectors: true})
		if err != nil {
			p.addf("%s: search: %s", name, describe(err))
			continue
		}
		p.add(checkMatches(name, v.f, s.GetMatches(), want, v.exact, true))
		s, err = c.vsearch(&v1.VectorSearchRequest{Namespace: ns, Query: searchQuery, K: k})
		if err != nil {
			p.addf("%s: search without include_vectors: %s", name, describe(err))
			continue
		}
		p.add(checkMatches(name+" without include_vectors", v.f, s.GetMatches(), want, v.exact, false))
	}
	return p.err()
}

const distTolerance = 1e-4

// checkMatches compares a search answer with the reference.
func checkMatches(name string, f v1.DistanceFunction, got []*v1.VectorMatch, want []point, exact, withVectors bool) error {
	var p problems
	stored := map[string][]float32{}
	for _, pt := range searchPoints {
		stored[pt.id] = pt.vec
	}
	if exact && len(got) != len(want) {
		p.addf("%s: %d matches, want %d", name, len(got), len(want))
	}
	if len(got) > len(want) {
		p.addf("%s: %d matches, more than k = %d", name, len(got), len(want))
	}
	for i, m := range got {
		vec, ok := stored[m.GetId()]
		if !ok {
			p.addf("%s: match %d has unknown id %q", name, i, m.GetId())
			continue
		}
		ref := refDistance(f, searchQuery, vec)
		if math.Abs(float64(m.GetDistance())-ref) > distTolerance {
			p.addf("%s: match %q distance %v, want %.6f", name, m.GetId(), m.GetDistance(), ref)
		}
		if i > 0 {
			prev := got[i-1]
			if m.GetDistance() < prev.GetDistance() || (m.GetDistance() == prev.GetDistance() && m.GetId() < prev.GetId()) {
				p.addf("%s: match %d (%q, %v) out of order after (%q, %v): want distance ascending, ties by id", name, i, m.GetId(), m.GetDistance(), prev.GetId(), prev.GetDistance())
			}
		}
		if exact && i < len(want) && m.GetId() != want[i].id {
			p.addf("%s: match %d is %q, want %q", name, i, m.GetId(), want[i].id)
		}
		if withVectors && !slices.Equal(m.GetVector(), vec) {
			p.addf("%s: match %q vector %v, want the stored %v", name, m.GetId(), m.GetVector(), vec)
		}
		if !withVectors && len(m.GetVector()) != 0 {
			p.addf("%s: match %q carries a vector though include_vectors was false", name, m.GetId())
		}
	}
	return p.err()
}

func shortEnum(s, prefix string) string { return strings.ToLower(strings.TrimPrefix(s, prefix)) }
