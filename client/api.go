package norikv

import (
	"context"
)

// KV is the key-value part of the API.
type KV interface {
	Put(ctx context.Context, key string, value []byte, opts ...PutOption) (Version, error)
	Get(ctx context.Context, key string, opts ...GetOption) (*GetResult, error)
	Delete(ctx context.Context, key string, opts ...DeleteOption) error
}

// Batches is the batch part of the API: many keys in one call (see Batch
// and Client.Do). A mock's MultiGet returns what the client would: on
// partial failure a *BatchError with one entry per key.
type Batches interface {
	Do(ctx context.Context, b *Batch) error
	MultiGet(ctx context.Context, keys []string, opts ...GetOption) ([]*GetResult, error)
	MultiPut(ctx context.Context, kvs []KeyValue, opts ...PutOption) ([]Version, error)
	MultiDelete(ctx context.Context, keys []string, opts ...DeleteOption) error
}

// Vectors is the vector-search part of the API.
type Vectors interface {
	VectorCreateIndex(ctx context.Context, namespace string, dimensions int, distance DistanceFunction, indexType VectorIndexType, opts ...VectorWriteOption) (created bool, err error)
	VectorDropIndex(ctx context.Context, namespace string, opts ...VectorWriteOption) (dropped bool, err error)
	VectorInsert(ctx context.Context, namespace, id string, vector []float32, opts ...VectorWriteOption) (Version, error)
	VectorSearch(ctx context.Context, namespace string, query []float32, k int, opts ...VectorSearchOption) (*VectorSearchResult, error)
	VectorGet(ctx context.Context, namespace, id string, opts ...VectorReadOption) (vector []float32, found bool, err error)
	VectorDelete(ctx context.Context, namespace, id string, opts ...VectorWriteOption) (deleted bool, err error)
}

// API is everything a *Client does. Depend on it (or on KV or Vectors)
// rather than on *Client to substitute a fake or a mock in tests.
type API interface {
	KV
	Batches
	Vectors
	Connect(ctx context.Context) error
	Close() error
	ClusterView() *ClusterView
	OnTopologyChange(fn func(TopologyEvent)) (unsubscribe func())
	Stats() Stats
	ShardForKey(key string) int
}
