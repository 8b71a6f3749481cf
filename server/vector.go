package server

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
	"github.com/norikv/norikv-go/vector"
)

// vectorNamespace is one namespace's index, living in the state of the
// shard its name hashes to.
type vectorNamespace struct {
	dims     uint32
	distance v1.DistanceFunction
	kind     v1.VectorIndexType
	idx      vector.Index
}

func (ns *vectorNamespace) describe() string {
	return fmt.Sprintf("dimensions=%d distance=%s index_type=%s", ns.dims, ns.distance, ns.kind)
}

// vectorService serves norikv.v1.Vector on one node. Namespaces are served
// by the leader of their shard; stale reads by any of its replicas.
type vectorService struct {
	c    *Cluster
	node int
}

// CreateIndex creates a namespace; an identical one answers created=false,
// a different one ALREADY_EXISTS.
func (h *vectorService) CreateIndex(ctx context.Context, req *v1.CreateVectorIndexRequest) (*v1.CreateVectorIndexResponse, error) {
	want := &vectorNamespace{dims: req.Dimensions, distance: req.Distance, kind: req.IndexType}
	f := newFingerprint(opVectorCreate)
	f.str(req.Namespace)
	f.u64(uint64(req.Dimensions))
	f.u64(uint64(req.Distance))
	f.u64(uint64(req.IndexType))
	created := false
	err := h.write(ctx, req.Namespace, req.IdempotencyKey, f.sum(), func(s *shard) (bool, error) {
		if cur := s.vectors[req.Namespace]; cur != nil {
			if cur.dims != want.dims || cur.distance != want.distance || cur.kind != want.kind {
				return false, connect.NewError(connect.CodeAlreadyExists, fmt.Errorf(
					"vector index for namespace %q already exists with %s; requested %s (drop it first to change it)",
					req.Namespace, cur.describe(), want.describe()))
			}
			return false, nil
		}
		idx, err := vector.New(vector.Config{Dimensions: int(req.Dimensions), Distance: distanceOf(req.Distance), Kind: kindOf(req.IndexType)})
		if err != nil {
			return false, vectorError(err)
		}
		want.idx = idx
		if s.vectors == nil {
			s.vectors = make(map[string]*vectorNamespace)
		}
		s.vectors[req.Namespace] = want
		s.recordVector(vecOp{ns: req.Namespace, create: want})
		s.ops.vectorCreates++
		return true, nil
	}, func(r idemResult) { created = r.flag })
	if err != nil {
		return nil, err
	}
	return &v1.CreateVectorIndexResponse{Created: created}, nil
}

// DropIndex removes a namespace and its vectors.
func (h *vectorService) DropIndex(ctx context.Context, req *v1.DropVectorIndexRequest) (*v1.DropVectorIndexResponse, error) {
	f := newFingerprint(opVectorDrop)
	f.str(req.Namespace)
	dropped := false
	err := h.write(ctx, req.Namespace, req.IdempotencyKey, f.sum(), func(s *shard) (bool, error) {
		if s.vectors[req.Namespace] == nil {
			return false, nil
		}
		delete(s.vectors, req.Namespace)
		s.recordVector(vecOp{ns: req.Namespace, drop: true})
		s.ops.vectorDrops++
		return true, nil
	}, func(r idemResult) { dropped = r.flag })
	if err != nil {
		return nil, err
	}
	return &v1.DropVectorIndexResponse{Dropped: dropped}, nil
}

// Insert upserts one vector.
func (h *vectorService) Insert(ctx context.Context, req *v1.VectorInsertRequest) (*v1.VectorInsertResponse, error) {
	f := newFingerprint(opVectorInsert)
	f.str(req.Namespace)
	f.str(req.Id)
	f.floats(req.Vector)
	var ver version
	err := h.write(ctx, req.Namespace, req.IdempotencyKey, f.sum(), func(s *shard) (bool, error) {
		ns, err := namespaceOf(s, req.Namespace)
		if err != nil {
			return false, err
		}
		if err := checkDims("vector", len(req.Vector), ns); err != nil {
			return false, err
		}
		if err := ns.idx.Insert(req.Id, req.Vector); err != nil {
			return false, vectorError(err)
		}
		s.recordVector(vecOp{ns: req.Namespace, id: req.Id, vec: req.Vector})
		s.ops.vectorInserts++
		return true, nil
	}, func(r idemResult) { ver = r.ver })
	if err != nil {
		return nil, err
	}
	return &v1.VectorInsertResponse{Inserted: true, Version: ver.proto()}, nil
}

// Delete removes one vector; deleted says whether it existed.
func (h *vectorService) Delete(ctx context.Context, req *v1.VectorDeleteRequest) (*v1.VectorDeleteResponse, error) {
	f := newFingerprint(opVectorDelete)
	f.str(req.Namespace)
	f.str(req.Id)
	deleted := false
	err := h.write(ctx, req.Namespace, req.IdempotencyKey, f.sum(), func(s *shard) (bool, error) {
		ns, err := namespaceOf(s, req.Namespace)
		if err != nil {
			return false, err
		}
		ok := ns.idx.Delete(req.Id)
		if ok {
			s.recordVector(vecOp{ns: req.Namespace, id: req.Id, del: true})
		}
		s.ops.vectorDeletes++
		return ok, nil
	}, func(r idemResult) { deleted = r.flag })
	if err != nil {
		return nil, err
	}
	return &v1.VectorDeleteResponse{Deleted: deleted}, nil
}

// Search returns the k nearest vectors, by distance then id.
func (h *vectorService) Search(ctx context.Context, req *v1.VectorSearchRequest) (*v1.VectorSearchResponse, error) {
	ns, err := h.read(ctx, req.Namespace, req.Consistency)
	if err != nil {
		return nil, err
	}
	if err := checkDims("query", len(req.Query), ns); err != nil {
		return nil, err
	}
	start := time.Now()
	matches, err := ns.idx.Search(req.Query, int(req.K), req.IncludeVectors)
	took := time.Since(start)
	if err != nil {
		return nil, vectorError(err)
	}
	res := &v1.VectorSearchResponse{
		Matches: make([]*v1.VectorMatch, len(matches)),
		// Rounded up: a search that ran took at least a microsecond.
		SearchTimeUs: uint64((took + time.Microsecond - 1) / time.Microsecond),
	}
	for i, m := range matches {
		res.Matches[i] = &v1.VectorMatch{Id: m.ID, Distance: m.Distance, Vector: m.Vector}
	}
	return res, nil
}

// Get reads one vector; found=false if the id is absent.
func (h *vectorService) Get(ctx context.Context, req *v1.VectorGetRequest) (*v1.VectorGetResponse, error) {
	ns, err := h.read(ctx, req.Namespace, req.Consistency)
	if err != nil {
		return nil, err
	}
	v, ok := ns.idx.Get(req.Id)
	return &v1.VectorGetResponse{Vector: v, Found: ok}, nil
}

// write runs apply on the namespace's shard as its leader, under the shard
// lock, with idempotency: apply reports the response flag; done receives
// the result (the first one, for a replay). Every applied write takes a log
// index, like a Raft entry would.
func (h *vectorService) write(ctx context.Context, namespace, idemKey string, fp uint64,
	apply func(*shard) (bool, error), done func(idemResult)) error {
	c := h.c
	s := c.shardForString(namespace)
	idemKey, fp = c.idemTerms(idemKey, fp)
	now := c.clock()
	first, replayed, err := c.lockForWrite(ctx, s, h.node, idemKey, fp, now)
	if err != nil {
		return err
	}
	if replayed {
		done(first)
		return nil
	}
	flag, err := apply(s)
	if err != nil {
		c.abandon(s, idemKey)
		return err
	}
	res := idemResult{ver: s.nextVersion(), flag: flag}
	c.applied(s, idemKey, fp, res, now)
	done(res)
	return nil
}

// read finds a namespace for a read at the given consistency.
func (h *vectorService) read(ctx context.Context, namespace, consistency string) (*vectorNamespace, error) {
	cons, ok := wire.ParseConsistency(consistency)
	if !ok {
		return nil, invalidArgument("consistency: unknown level " + quote(consistency))
	}
	c := h.c
	s := c.shardForString(namespace)
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := c.route(ctx, s, h.node, cons.NeedsLeader()); err != nil {
		return nil, err
	}
	return namespaceOf(s, namespace)
}

func namespaceOf(s *shard, namespace string) (*vectorNamespace, error) {
	if ns := s.vectors[namespace]; ns != nil {
		return ns, nil
	}
	return nil, notFound(fmt.Sprintf("namespace: no vector index %s; create it with CreateIndex first", quote(namespace)))
}

func checkDims(field string, got int, ns *vectorNamespace) error {
	if got != int(ns.dims) {
		return invalidArgument(fmt.Sprintf("%s: has %d dimensions, the index has %d", field, got, ns.dims))
	}
	return nil
}

// vectorError maps the engine's errors to RPC codes: bad input is the
// caller's INVALID_ARGUMENT, anything else an internal failure.
func vectorError(err error) error {
	if _, ok := errors.AsType[*vector.InvalidArgumentError](err); ok {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	return connect.NewError(connect.CodeInternal, err)
}

func distanceOf(d v1.DistanceFunction) vector.Distance {
	switch d {
	case v1.DistanceFunction_DISTANCE_FUNCTION_COSINE:
		return vector.Cosine
	case v1.DistanceFunction_DISTANCE_FUNCTION_INNER_PRODUCT:
		return vector.InnerProduct
	}
	return vector.Euclidean
}

func kindOf(k v1.VectorIndexType) vector.Kind {
	if k == v1.VectorIndexType_VECTOR_INDEX_TYPE_HNSW {
		return vector.HNSW
	}
	return vector.BruteForce
}
