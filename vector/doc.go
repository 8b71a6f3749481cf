// Package vector is NoriKV's in-process vector search engine: it stores
// fixed-dimension float32 vectors under string ids and answers k-nearest-
// neighbour queries. It knows nothing about RPC or protobuf; the server
// adapts it to the gRPC Vector service.
//
// # Index kinds
//
// Two implementations share the [Index] interface:
//
//   - [BruteForce] scans every vector (exact). Vectors live in one contiguous
//     []float32 slab and are compared with AVX2/FMA assembly kernels
//     (kernels_amd64.s; an unrolled pure-Go fallback is used on other CPUs
//     or with the purego build tag), so a query runs at close to memory
//     bandwidth. Deletes swap-remove.
//   - [HNSW] is a Hierarchical Navigable Small World graph (Malkov &
//     Yashunin, 2016): approximate, sub-linear search. Neighbour lists are
//     stored as uint32 node numbers in fixed-size slabs (2*M on layer 0, M
//     above), vectors in one contiguous slab. Deletes are tombstones: deleted
//     nodes keep routing searches but never appear in results, and the graph
//     is rebuilt from the live vectors once tombstones outnumber live vectors.
//
// # Distances
//
// Every distance is "smaller is closer":
//
//   - [Euclidean]: the L2 distance sqrt(sum((a[i]-b[i])^2)) (not squared).
//   - [Cosine]: 1 - cos(a, b), clamped to [0, 2]. If either vector is all
//     zeros the cosine is undefined and the distance is defined as 1.
//   - [InnerProduct]: -dot(a, b), so larger dot products rank first.
//
// Search results are ordered by distance ascending, ties broken by id
// ascending.
//
// # Input validation
//
// Bad input never panics: it returns an [*InvalidArgumentError] that names
// the offending field and the limit, and wraps one of the sentinel errors
// ([ErrDimensionMismatch], [ErrNonFinite], [ErrInvalidK], [ErrInvalidID],
// [ErrInvalidConfig]) so callers can test it with errors.Is and map it to an
// RPC status.
//
// # Concurrency
//
// All methods are safe for concurrent use. Searches run in parallel with
// each other; writes are exclusive (sync.RWMutex). HNSW InsertBatch builds
// the graph with GOMAXPROCS goroutines, which all finish before it returns.
package vector
