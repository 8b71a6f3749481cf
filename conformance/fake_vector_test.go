package conformance

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// fakeVector is the fake's brute-force Vector service, enabled per test so
// the skip path (no Vector) stays covered too.
type fakeVector struct {
	n *fakeNode
}

type fakeIndex struct {
	cfg  *v1.CreateVectorIndexRequest
	vecs map[string][]float32
}

func notFoundNS(ns string) error {
	return connect.NewError(connect.CodeNotFound, errors.New("no vector index "+ns))
}

// vlead validates, checks leadership of the namespace's shard and returns
// its index (nil if none), under c.mu.
func (v fakeVector) vlead(m proto.Message, ns string) (*fakeIndex, error) {
	if err := validate(m); err != nil {
		return nil, err
	}
	if _, err := v.n.lead([]byte(ns)); err != nil {
		return nil, err
	}
	return v.n.c.indexes[ns], nil
}

// existing is vlead for calls that need the index to exist.
func (v fakeVector) existing(m proto.Message, ns string) (*fakeIndex, error) {
	ix, err := v.vlead(m, ns)
	if err == nil && ix == nil {
		err = notFoundNS(ns)
	}
	return ix, err
}

func (v fakeVector) CreateIndex(_ context.Context, req *v1.CreateVectorIndexRequest) (*v1.CreateVectorIndexResponse, error) {
	v.n.c.mu.Lock()
	defer v.n.c.mu.Unlock()
	ix, err := v.vlead(req, req.GetNamespace())
	if err != nil {
		return nil, err
	}
	if ix != nil {
		c := ix.cfg
		if c.GetDimensions() != req.GetDimensions() || c.GetDistance() != req.GetDistance() || c.GetIndexType() != req.GetIndexType() {
			return nil, connect.NewError(connect.CodeAlreadyExists, errors.New("index exists with another configuration"))
		}
		return &v1.CreateVectorIndexResponse{}, nil
	}
	v.n.c.indexes[req.GetNamespace()] = &fakeIndex{cfg: req, vecs: map[string][]float32{}}
	return &v1.CreateVectorIndexResponse{Created: true}, nil
}

func (v fakeVector) DropIndex(_ context.Context, req *v1.DropVectorIndexRequest) (*v1.DropVectorIndexResponse, error) {
	v.n.c.mu.Lock()
	defer v.n.c.mu.Unlock()
	ix, err := v.vlead(req, req.GetNamespace())
	if err != nil {
		return nil, err
	}
	delete(v.n.c.indexes, req.GetNamespace())
	return &v1.DropVectorIndexResponse{Dropped: ix != nil}, nil
}

func (v fakeVector) Insert(_ context.Context, req *v1.VectorInsertRequest) (*v1.VectorInsertResponse, error) {
	v.n.c.mu.Lock()
	defer v.n.c.mu.Unlock()
	ix, err := v.existing(req, req.GetNamespace())
	if err != nil {
		return nil, err
	}
	if len(req.GetVector()) != int(ix.cfg.GetDimensions()) {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("wrong dimensions"))
	}
	ix.vecs[req.GetId()] = req.GetVector()
	return &v1.VectorInsertResponse{Inserted: true, Version: &v1.Version{Term: 1, Index: uint64(time.Now().UnixNano())}}, nil
}

func (v fakeVector) Delete(_ context.Context, req *v1.VectorDeleteRequest) (*v1.VectorDeleteResponse, error) {
	v.n.c.mu.Lock()
	defer v.n.c.mu.Unlock()
	ix, err := v.existing(req, req.GetNamespace())
	if err != nil {
		return nil, err
	}
	_, ok := ix.vecs[req.GetId()]
	delete(ix.vecs, req.GetId())
	return &v1.VectorDeleteResponse{Deleted: ok}, nil
}

func (v fakeVector) Search(_ context.Context, req *v1.VectorSearchRequest) (*v1.VectorSearchResponse, error) {
	v.n.c.mu.Lock()
	defer v.n.c.mu.Unlock()
	ix, err := v.existing(req, req.GetNamespace())
	if err != nil {
		return nil, err
	}
	if len(req.GetQuery()) != int(ix.cfg.GetDimensions()) {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("wrong dimensions"))
	}
	var ms []*v1.VectorMatch
	for id, vec := range ix.vecs {
		m := &v1.VectorMatch{Id: id, Distance: float32(refDistance(ix.cfg.GetDistance(), req.GetQuery(), vec))}
		if req.GetIncludeVectors() {
			m.Vector = vec
		}
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *v1.VectorMatch) int {
		return cmp.Or(cmp.Compare(a.GetDistance(), b.GetDistance()), cmp.Compare(a.GetId(), b.GetId()))
	})
	if len(ms) > int(req.GetK()) {
		ms = ms[:req.GetK()]
	}
	return &v1.VectorSearchResponse{Matches: ms}, nil
}

func (v fakeVector) Get(_ context.Context, req *v1.VectorGetRequest) (*v1.VectorGetResponse, error) {
	v.n.c.mu.Lock()
	defer v.n.c.mu.Unlock()
	ix, err := v.existing(req, req.GetNamespace())
	if err != nil {
		return nil, err
	}
	vec, ok := ix.vecs[req.GetId()]
	return &v1.VectorGetResponse{Vector: vec, Found: ok}, nil
}
