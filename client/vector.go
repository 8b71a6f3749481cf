package norikv

import (
	"context"
	"math"
	"time"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// u32 converts a count for the wire; out-of-range values become 0, which
// validation rejects with a message naming the field, instead of wrapping
// into a valid-looking number.
func u32(n int) uint32 {
	if n <= 0 || n > math.MaxUint32 {
		return 0
	}
	return uint32(n)
}

// VectorCreateIndex creates the vector index of namespace. created is false
// if it already existed. Option: WithIdempotencyKey.
func (c *Client) VectorCreateIndex(ctx context.Context, namespace string, dimensions int, distance DistanceFunction, indexType VectorIndexType, opts ...VectorWriteOption) (created bool, err error) {
	cctx, done, err := c.enter(ctx, "VectorCreateIndex")
	if err != nil {
		return false, err
	}
	defer done()
	var o vectorWriteOptions
	for _, opt := range opts {
		opt.applyVectorWrite(&o)
	}
	res, err := c.vec.CreateIndex(cctx, &v1.CreateVectorIndexRequest{
		Namespace:      namespace,
		Dimensions:     u32(dimensions),
		Distance:       v1.DistanceFunction(distance),
		IndexType:      v1.VectorIndexType(indexType),
		IdempotencyKey: o.idemKey,
	})
	if err != nil {
		return false, c.callError(ctx, "VectorCreateIndex", err)
	}
	return res.GetCreated(), nil
}

// VectorDropIndex drops namespace's index and its vectors. dropped is
// false if there was none. Option: WithIdempotencyKey.
func (c *Client) VectorDropIndex(ctx context.Context, namespace string, opts ...VectorWriteOption) (dropped bool, err error) {
	cctx, done, err := c.enter(ctx, "VectorDropIndex")
	if err != nil {
		return false, err
	}
	defer done()
	var o vectorWriteOptions
	for _, opt := range opts {
		opt.applyVectorWrite(&o)
	}
	res, err := c.vec.DropIndex(cctx, &v1.DropVectorIndexRequest{Namespace: namespace, IdempotencyKey: o.idemKey})
	if err != nil {
		return false, c.callError(ctx, "VectorDropIndex", err)
	}
	return res.GetDropped(), nil
}

// VectorInsert inserts or replaces the vector id in namespace and returns
// the write's Version. Option: WithIdempotencyKey.
func (c *Client) VectorInsert(ctx context.Context, namespace, id string, vector []float32, opts ...VectorWriteOption) (Version, error) {
	cctx, done, err := c.enter(ctx, "VectorInsert")
	if err != nil {
		return Version{}, err
	}
	defer done()
	var o vectorWriteOptions
	for _, opt := range opts {
		opt.applyVectorWrite(&o)
	}
	res, err := c.vec.Insert(cctx, &v1.VectorInsertRequest{Namespace: namespace, Id: id, Vector: vector, IdempotencyKey: o.idemKey})
	if err != nil {
		return Version{}, c.callError(ctx, "VectorInsert", err)
	}
	return versionFrom(res.GetVersion()), nil
}

// VectorSearch returns the k nearest vectors to query in namespace,
// nearest first. Options: WithIncludeVectors, WithConsistency.
func (c *Client) VectorSearch(ctx context.Context, namespace string, query []float32, k int, opts ...VectorSearchOption) (*VectorSearchResult, error) {
	cctx, done, err := c.enter(ctx, "VectorSearch")
	if err != nil {
		return nil, err
	}
	defer done()
	var o vectorSearchOptions
	for _, opt := range opts {
		opt.applyVectorSearch(&o)
	}
	res, err := c.vec.Search(cctx, &v1.VectorSearchRequest{
		Namespace:      namespace,
		Query:          query,
		K:              u32(k),
		IncludeVectors: o.includeVectors,
		Consistency:    o.consistency.spelling(),
	})
	if err != nil {
		return nil, c.callError(ctx, "VectorSearch", err)
	}
	out := &VectorSearchResult{
		Matches:    make([]VectorMatch, len(res.GetMatches())),
		SearchTime: time.Duration(res.GetSearchTimeUs()) * time.Microsecond,
	}
	for i, m := range res.GetMatches() {
		out.Matches[i] = VectorMatch{ID: m.GetId(), Distance: m.GetDistance(), Vector: m.GetVector()}
	}
	return out, nil
}

// VectorGet returns the vector id of namespace; found is false if there is
// none. Option: WithConsistency.
func (c *Client) VectorGet(ctx context.Context, namespace, id string, opts ...VectorReadOption) (vector []float32, found bool, err error) {
	cctx, done, err := c.enter(ctx, "VectorGet")
	if err != nil {
		return nil, false, err
	}
	defer done()
	var o vectorReadOptions
	for _, opt := range opts {
		opt.applyVectorRead(&o)
	}
	res, err := c.vec.Get(cctx, &v1.VectorGetRequest{Namespace: namespace, Id: id, Consistency: o.consistency.spelling()})
	if err != nil {
		return nil, false, c.callError(ctx, "VectorGet", err)
	}
	return res.GetVector(), res.GetFound(), nil
}

// VectorDelete deletes the vector id of namespace; deleted is false if
// there was none. Option: WithIdempotencyKey.
func (c *Client) VectorDelete(ctx context.Context, namespace, id string, opts ...VectorWriteOption) (deleted bool, err error) {
	cctx, done, err := c.enter(ctx, "VectorDelete")
	if err != nil {
		return false, err
	}
	defer done()
	var o vectorWriteOptions
	for _, opt := range opts {
		opt.applyVectorWrite(&o)
	}
	res, err := c.vec.Delete(cctx, &v1.VectorDeleteRequest{Namespace: namespace, Id: id, IdempotencyKey: o.idemKey})
	if err != nil {
		return false, c.callError(ctx, "VectorDelete", err)
	}
	return res.GetDeleted(), nil
}
