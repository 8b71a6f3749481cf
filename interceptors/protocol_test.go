package interceptors

import (
	"errors"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

// TestProtocolMismatch: the refusals of gRPC-only servers become one
// FAILED_PRECONDITION error naming the protocol and what to use; other
// errors, gRPC's own included, are left alone.
func TestProtocolMismatch(t *testing.T) {
	frames := connect.NewError(connect.CodeUnavailable, errors.New(`net/http: HTTP/1.x transport connection broken: malformed HTTP response "\x00\x00\x06\x04\x00"`))
	for _, tc := range []struct {
		protocol string
		err      error
		want     string
	}{
		{connect.ProtocolConnect, frames, "node n:1 does not speak the Connect protocol over HTTP/1.1"},
		{connect.ProtocolGRPCWeb, connect.NewError(connect.CodeUnavailable, errors.New("net/http: HTTP/1.x transport connection broken: readLoopPeekFailLocked: %!w(<nil>)")), "does not speak gRPC-Web over HTTP/1.1"},
		{connect.ProtocolGRPCWeb, connect.NewError(connect.CodeUnknown, errors.New(`invalid content-type: "application/grpc"; expecting "application/grpc-web"`)), "does not speak gRPC-Web: it answered in gRPC"},
		{connect.ProtocolConnect, connect.NewError(connect.CodeUnknown, errors.New("HTTP status 415 Unsupported Media Type")), "415 Unsupported Media Type"},
		{connect.ProtocolGRPC, connect.NewError(connect.CodeInternal, errors.New(`invalid content-type: "application/grpc"; expecting "application/grpc+json"`)), "does not speak the JSON codec"},
		{connect.ProtocolGRPC, connect.NewError(connect.CodeUnknown, errors.New("HTTP status 415 Unsupported Media Type")), ""},
		{connect.ProtocolConnect, connect.NewError(connect.CodeUnavailable, errors.New("NOT_LEADER: shard 1")), ""},
		{connect.ProtocolConnect, nil, ""},
	} {
		got := ProtocolMismatch(tc.protocol, "n:1", tc.err)
		if tc.want == "" {
			if got != nil {
				t.Errorf("ProtocolMismatch(%s, %v) = %v, want nil", tc.protocol, tc.err, got)
			}
			continue
		}
		if connect.CodeOf(got) != connect.CodeFailedPrecondition || !errors.Is(got, ErrProtocolNotServed) || !errors.Is(got, tc.err) || !strings.Contains(got.Error(), tc.want) {
			t.Errorf("ProtocolMismatch(%s, %v) = %v, want FAILED_PRECONDITION saying %q", tc.protocol, tc.err, got, tc.want)
		}
		if Retryable(got) {
			t.Errorf("%v is retryable", got)
		}
		if e := Convert(t.Context(), "Put", got); !errors.Is(e, ErrProtocolNotServed) || errors.Is(e, ErrVersionMismatch) {
			t.Errorf("Convert(%v) = %v, want ErrProtocolNotServed and no version mismatch", got, e)
		}
	}
}
