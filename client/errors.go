package norikv

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/interceptors"
)

// Error is every SDK error: Code (a connect.Code), Message, Operation,
// Key or Namespace. It wraps the matching sentinel and the cause, so
// errors.Is(err, ErrKeyNotFound), errors.As(err, &*ConnectionError) and
// errors.As(err, &*connect.Error) all work. Defined in package
// interceptors so raw generated clients using interceptors.Errors return
// the same type.
type Error = interceptors.Error

// ConnectionError reports a node that could not be reached (refused,
// reset, DNS). Calls return an *Error wrapping it.
type ConnectionError = interceptors.ConnectionError

// Code is a status code; see connect.Code for the values.
type Code = connect.Code

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
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return interceptors.Convert(ctx, op, err)
}
