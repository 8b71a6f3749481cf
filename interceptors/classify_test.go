package interceptors

import (
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"
)

// The HTTP/2 transport's dropped-connection messages are connection
// failures (so the call is retried elsewhere); other errors are not.
func TestConnectionFailureHTTP2Messages(t *testing.T) {
	for _, msg := range []string{
		"read message: http2: client connection lost",
		"read message: http2: client connection force closed via ClientConn.Close",
	} {
		err := connect.NewError(connect.CodeUnknown, fmt.Errorf("%s", msg))
		if !IsConnectionFailure(err) {
			t.Errorf("%q is not a connection failure", msg)
		}
		if !Retryable(err) {
			t.Errorf("%q is not retryable", msg)
		}
	}
	if IsConnectionFailure(connect.NewError(connect.CodeUnknown, errors.New("boom"))) {
		t.Error("an unknown error counted as a connection failure")
	}
}
