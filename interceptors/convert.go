package interceptors

import (
	"context"
	"errors"
	"strings"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/wire"
)

// Convert turns any error from a generated client into an *Error per the
// SDK's error table. op names the RPC; ctx is the caller's context, so a
// call that ended because ctx did reports context.Canceled or
// context.DeadlineExceeded.
func Convert(ctx context.Context, op string, err error) *Error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		if e.Operation == "" {
			e.Operation = op
		}
		return e
	}
	code := connect.CodeOf(err)
	msg := err.Error()
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		msg = ce.Message()
	}
	e = &Error{Code: code, Message: msg, Operation: op, cause: err}
	if c := connectionFailure(err); c != nil {
		e.cause = errors.Join(c, err)
	}
	if cerr := ctx.Err(); cerr != nil {
		// The caller's ctx ended the call: report it as such, whatever the
		// transport said, and keep both so errors.Is(err, ctx error) holds.
		if !errors.Is(err, cerr) {
			e.cause = errors.Join(cerr, e.cause)
		}
		e.Code = ctxCode(cerr)
		return e
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		e.Code = ctxCode(err)
	}
	switch code {
	case connect.CodeNotFound:
		if strings.HasPrefix(op, "Vector") {
			e.sentinel = ErrIndexNotFound
		} else {
			e.sentinel = ErrKeyNotFound
		}
	case connect.CodeAlreadyExists:
		e.sentinel = ErrAlreadyExists
	case connect.CodeOutOfRange:
		if strings.HasPrefix(msg, "idempotency session") {
			e.sentinel = ErrOutcomeUnknown
		}
	case connect.CodeFailedPrecondition:
		if errors.Is(err, ErrProtocolNotServed) {
			e.sentinel = ErrProtocolNotServed
			break
		}
		if _, nl := wire.ParseNotLeader(err); nl {
			break
		}
		low := strings.ToLower(msg)
		if !strings.HasPrefix(op, "Vector") || strings.Contains(low, "version") || strings.Contains(low, "cas") {
			e.sentinel = ErrVersionMismatch
		}
	}
	return e
}

// ctxCode is the status code for a context error.
func ctxCode(err error) connect.Code {
	if errors.Is(err, context.DeadlineExceeded) {
		return connect.CodeDeadlineExceeded
	}
	return connect.CodeCanceled
}
