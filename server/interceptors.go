package server

import (
	"context"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/norikv/norikv-go/internal/validation"
)

// validateInterceptor enforces the schema's rules on every request message
// (internal/validation, the same check the client runs before sending), so
// limits are checked in one place and reported as INVALID_ARGUMENT naming
// the field and the limit.
type validateInterceptor struct{}

func (i *validateInterceptor) check(m any) error {
	msg, ok := m.(proto.Message)
	if !ok {
		return nil
	}
	if err := validation.Check(msg); err != nil {
		return err
	}
	return nil
}

func (i *validateInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := i.check(req.Any()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (i *validateInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *validateInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		return next(ctx, &validatingConn{StreamingHandlerConn: conn, i: i})
	}
}

type validatingConn struct {
	connect.StreamingHandlerConn
	i *validateInterceptor
}

func (c *validatingConn) Receive(m any) error {
	if err := c.StreamingHandlerConn.Receive(m); err != nil {
		return err
	}
	return c.i.check(m)
}
