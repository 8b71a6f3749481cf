package server

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

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

// authInterceptor requires "authorization: Bearer <token>" on every call.
// As an interceptor (not HTTP middleware) its UNAUTHENTICATED reply is
// written in whichever protocol the client speaks.
type authInterceptor struct{ token []byte }

func newAuthInterceptor(token string) *authInterceptor {
	return &authInterceptor{token: []byte(token)}
}

var errUnauthenticated = errors.New("missing or invalid bearer token: send \"authorization: Bearer <token>\"")

func (a *authInterceptor) check(h http.Header) error {
	const prefix = "bearer "
	got := h.Get("Authorization")
	if len(got) < len(prefix) || !strings.EqualFold(got[:len(prefix)], prefix) ||
		subtle.ConstantTimeCompare([]byte(got[len(prefix):]), a.token) != 1 {
		return connect.NewError(connect.CodeUnauthenticated, errUnauthenticated)
	}
	return nil
}

func (a *authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		if err := a.check(req.Header()); err != nil {
			return nil, err
		}
		return next(ctx, req)
	}
}

func (a *authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a *authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		if err := a.check(conn.RequestHeader()); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
