package interceptors

import (
	"context"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Errors returns the interceptor that turns every error of a unary call
// into an *Error (see Convert), naming the operation and the key or
// namespace. It also reports a Get answered OK with an unset version (the
// Rust server's way to say "missing") as ErrKeyNotFound. Put it outermost,
// so it sees the final error after retries.
func Errors() connect.Interceptor { return errorsInterceptor{} }

type errorsInterceptor struct{}

func (errorsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		res, err := next(ctx, req)
		if err == nil {
			if r, ok := res.Any().(*v1.GetResponse); ok && r.GetVersion() == nil {
				e := KeyNotFound("")
				fill(e, req)
				return nil, e
			}
			return res, nil
		}
		e := Convert(ctx, OperationName(req.Spec().Procedure), err)
		fill(e, req)
		return nil, e
	}
}

// KeyNotFound is the error of a Get of key answered OK with an unset
// version, the contract's way to say "missing": the one definition for
// single calls (Errors) and the norikv client's batched reads.
func KeyNotFound(key string) *Error {
	return &Error{Code: connect.CodeNotFound, Message: "key not found", Operation: "Get", Key: key, sentinel: ErrKeyNotFound}
}

// fill names the operation and the key or namespace of req in e.
func fill(e *Error, req connect.AnyRequest) {
	if e.Operation == "" {
		e.Operation = OperationName(req.Spec().Procedure)
	}
	switch m := req.Any().(type) {
	case interface{ GetKey() []byte }:
		if e.Key == "" {
			e.Key = string(m.GetKey())
		}
	case interface{ GetNamespace() string }:
		if e.Namespace == "" {
			e.Namespace = m.GetNamespace()
		}
	}
}

func (errorsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (errorsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
