package interceptors

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/norikv/norikv-go/internal/validation"
)

// Validate returns the interceptor that checks each unary request against
// the schema's protovalidate rules before anything is sent. A violation
// fails the call at once with INVALID_ARGUMENT and a message naming the
// field and the rule (e.g. "key: value length must be at most 1024
// bytes"), or a string field that is not UTF-8; it is never retried.
func Validate() connect.Interceptor { return validateInterceptor{} }

type validateInterceptor struct{}

func (validateInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if m, ok := req.Any().(proto.Message); ok {
			if err := validation.Check(m); err != nil {
				return nil, err
			}
		}
		return next(ctx, req)
	}
}

func (validateInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (validateInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}
