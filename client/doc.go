// Package norikv is the Go client for NoriKV, a sharded, Raft-replicated
// key-value store with vector search.
//
// Import it as
//
//	import norikv "github.com/norikv/norikv-go/client"
//
// A Client routes every call to the node that leads the key's shard (the
// key's xxhash64, jump-hashed over Config.TotalShards), follows NOT_LEADER
// redirects at once, retries transient failures with backoff within a
// retry budget, and keeps its view of the cluster current with a
// background watch. Writes always carry an idempotency key, so a retried
// write is applied once.
//
// One Client is safe for concurrent use and should be shared: it pools
// connections. Close it when done.
//
// Errors: every error a call returns is an *Error (errors.As) that wraps
// a sentinel (ErrKeyNotFound, ErrVersionMismatch, ErrAlreadyExists,
// ErrIndexNotFound, ErrClosed) where one applies, a *ConnectionError when
// a node could not be reached, and the underlying *connect.Error. When the
// call's ctx ends, errors.Is(err, context.Canceled) or
// errors.Is(err, context.DeadlineExceeded) holds.
// Error.Code compares with this package's Code* constants
// (CodeUnavailable, CodeInvalidArgument, ...), the same values as
// connectrpc.com/connect's, so no other import is needed.
//
// Options are typed per operation, so one that makes no sense for an
// operation does not compile: WithTTL returns a PutOption only, so
// Get(ctx, k, WithTTL(time.Second)) is a compile error, while
// WithIdempotencyKey's IdempotencyKeyOption is a PutOption, a DeleteOption
// and a VectorWriteOption at once.
//
// The options and the operations they apply to (each option's type is an
// interface embedding exactly these):
//
//	option              Put Delete Get VectorWrite VectorRead VectorSearch
//	WithTTL              ✓
//	WithIdempotencyKey   ✓    ✓            ✓
//	IfMatch              ✓    ✓
//	WithConsistency                ✓                ✓          ✓
//	WithIncludeVectors                                         ✓
//
// VectorWrite covers VectorCreateIndex, VectorDropIndex, VectorInsert and
// VectorDelete; VectorRead is VectorGet.
//
// Defaults: Timeout 5s per call (retries included); 5 attempts; backoff
// 50ms doubling to 2s plus up to 100ms jitter; at most 3 NOT_LEADER
// redirects per call, followed without backoff; a retry budget of 20% of
// calls plus 10 tokens (capped at 100); gRPC over HTTP/2 (h2c without
// TLS), binary protobuf; the cluster watch on (Config.DisableWatch turns
// it off). Requests are sent uncompressed: the client never compresses
// what it sends (compressing a small Put costs more than it saves).
//
// Retried: UNAVAILABLE, ABORTED, RESOURCE_EXHAUSTED, an attempt's own
// timeout (RetryConfig.AttemptTimeout) and connection failures. Never
// retried: INVALID_ARGUMENT, NOT_FOUND, FAILED_PRECONDITION,
// ALREADY_EXISTS, UNAUTHENTICATED, PERMISSION_DENIED, nor any other code
// unless it stems from a connection lost mid-call.
//
// The mechanics live in package interceptors, usable on raw generated
// clients too.
package norikv
