package norikv

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/interceptors"
)

// Error is the one error type every SDK call returns (an alias of
// interceptors.Error, defined there so raw generated clients using
// interceptors.Errors return the same type). It offers:
//
//	Code      Code   // the status code: CodeNotFound, CodeUnavailable, ...
//	Message   string // the server's (or the SDK's) message, without prefixes
//	Operation string // the call, e.g. "Put" or "VectorSearch"
//	Key       string // the request's key, when it has one
//	Namespace string // the request's vector namespace, when it has one
//
//	Error() string    // "norikv: Put key "k": not_found: message"
//	Unwrap() []error  // the sentinel (ErrKeyNotFound, ...) and the cause
//
// The cause is a *ConnectionError, a *connect.Error or a ctx error, so
// errors.Is and errors.As see through it:
//
//	var e *norikv.Error
//	if errors.As(err, &e) && e.Code == norikv.CodeUnavailable { ... }
//	if errors.Is(err, norikv.ErrKeyNotFound) { ... }
type Error = interceptors.Error

// ConnectionError reports a node that could not be reached (refused,
// reset, timed out dialing, DNS); calls return an *Error wrapping it. An
// alias of interceptors.ConnectionError. It offers:
//
//	Addr string // host:port, when known
//	Err  error  // the network error
//
//	Error() string // "norikv: cannot reach host:port: cause"
//	Unwrap() error // Err
//
// Find it with
//
//	var ce *norikv.ConnectionError
//	if errors.As(err, &ce) { log.Print("down: ", ce.Addr) }
type ConnectionError = interceptors.ConnectionError

// Code is a status code, an alias of connect.Code: compare Error.Code
// with the Code* constants (CodeNotFound, CodeUnavailable, ...; the same
// values as connect's, so either works), and print it with String
// ("not_found").
type Code = connect.Code

// The status codes, re-exported so comparing Error.Code needs no import
// of connectrpc.com/connect. The SDK retries CodeUnavailable, CodeAborted
// and CodeResourceExhausted; the rest it returns at once.
const (
	CodeCanceled           Code = connect.CodeCanceled
	CodeUnknown            Code = connect.CodeUnknown
	CodeInvalidArgument    Code = connect.CodeInvalidArgument // bad input: the message names the field and the limit
	CodeDeadlineExceeded   Code = connect.CodeDeadlineExceeded
	CodeNotFound           Code = connect.CodeNotFound // a missing key (ErrKeyNotFound) or vector index (ErrIndexNotFound)
	CodeAlreadyExists      Code = connect.CodeAlreadyExists
	CodePermissionDenied   Code = connect.CodePermissionDenied
	CodeResourceExhausted  Code = connect.CodeResourceExhausted
	CodeFailedPrecondition Code = connect.CodeFailedPrecondition // a lost IfMatch (ErrVersionMismatch), a closed client (ErrClosed)
	CodeAborted            Code = connect.CodeAborted
	CodeOutOfRange         Code = connect.CodeOutOfRange
	CodeUnimplemented      Code = connect.CodeUnimplemented
	CodeInternal           Code = connect.CodeInternal
	CodeUnavailable        Code = connect.CodeUnavailable // a node down or not the leader; retried
	CodeDataLoss           Code = connect.CodeDataLoss
	CodeUnauthenticated    Code = connect.CodeUnauthenticated // a missing or wrong Config.BearerToken
)

// Sentinels for errors.Is.
var (
	// ErrKeyNotFound: Get of a missing or expired key.
	ErrKeyNotFound = interceptors.ErrKeyNotFound
	// ErrVersionMismatch: an IfMatch compare-and-swap lost.
	ErrVersionMismatch = interceptors.ErrVersionMismatch
	// ErrAlreadyExists: ALREADY_EXISTS.
	ErrAlreadyExists = interceptors.ErrAlreadyExists
	// ErrIndexNotFound: a vector call on a namespace without an index.
	ErrIndexNotFound = interceptors.ErrIndexNotFound
	// ErrClosed: the Client was closed.
	ErrClosed = interceptors.ErrClosed
	// ErrProtocolNotServed: the nodes do not speak Config.Protocol (or
	// HTTP version, or codec): the production NoriKV server speaks gRPC
	// with binary protobuf over HTTP/2 only. FAILED_PRECONDITION, not
	// retried; the message says what to use.
	ErrProtocolNotServed = interceptors.ErrProtocolNotServed
	// ErrOutcomeUnknown: a write may or may not have been applied. Against
	// a cluster that does not announce client sessions (the Rust server
	// today) the SDK sends writes without an automatic idempotency key,
	// and one that fails in a way that does not prove it was not applied
	// (a timeout, a lost reply) is not retried but fails with this error.
	// Also a session answer the server no longer kept. Read the key to
	// know, or give the write WithIdempotencyKey to have it retried.
	ErrOutcomeUnknown = interceptors.ErrOutcomeUnknown
)

// closedError is returned by calls on a closed client.
func closedError(op string) error {
	e := interceptors.NewError(connect.CodeFailedPrecondition, "client closed", ErrClosed, nil)
	e.Operation = op
	return e
}

// asError makes sure err is an *Error. Errors from the generated clients
// already are (the Errors interceptor); this covers the rest.
func asError(ctx context.Context, op string, err error) error {
	if _, ok := errors.AsType[*Error](err); ok {
		return err
	}
	return interceptors.Convert(ctx, op, err)
}
