package interceptors

import (
	"errors"
	"regexp"
	"strings"

	"connectrpc.com/connect"
)

// ErrProtocolNotServed means the node does not speak the protocol, HTTP
// version or codec the client is configured for. The production NoriKV
// server speaks gRPC with binary protobuf over HTTP/2 only, so a client
// set to Connect or gRPC-Web meets this against it. Retrying cannot help;
// the error says what to configure instead.
var ErrProtocolNotServed = errors.New("norikv: protocol not served")

// contentTypeMismatch is connect-go's complaint about a reply in another
// protocol or codec than asked: `invalid content-type: "A"; expecting "B"`.
var contentTypeMismatch = regexp.MustCompile(`invalid content-type: "([^"]*)"; expecting "([^"]*)"`)

// ProtocolMismatch recognises in err a node refusing the client's
// protocol (connect-go's Peer.Protocol name: "grpc", "grpcweb" or
// "connect"), HTTP version or codec, and returns a FAILED_PRECONDITION
// error that names what the node at addr does not speak and what to use,
// wrapping ErrProtocolNotServed and err. It returns nil for any other
// error. The signs are what gRPC-only servers (tonic, grpc-go, the
// embedded server's gRPC-only mode) answer at the protocol layer:
//
//   - HTTP/2 frames in reply to an HTTP/1.1 request (HTTP2Reply);
//   - a reply in gRPC to a Connect or gRPC-Web request, or in binary
//     protobuf to a JSON one (connect-go's "invalid content-type");
//   - HTTP 415 Unsupported Media Type to a Connect or gRPC-Web request.
func ProtocolMismatch(protocol, addr string, err error) error {
	if err == nil || errors.Is(err, ErrProtocolNotServed) {
		return nil
	}
	msg := err.Error()
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		msg = ce.Message()
	}
	node := "the node"
	if addr != "" {
		node = "node " + addr
	}
	const grpcOnly = ", as gRPC-only servers (NoriKV's production server among them) do"
	const useGRPC = "; use gRPC (Config.Protocol = norikv.ProtocolGRPC, the default)"
	var text string
	switch m := contentTypeMismatch.FindStringSubmatch(msg); {
	case HTTP2Reply(msg):
		text = node + " does not speak " + protocolName(protocol) + " over HTTP/1.1: it answered with HTTP/2 frames" + grpcOnly + useGRPC
	case m != nil && isGRPC(m[1]) && strings.HasPrefix(m[2], "application/grpc+json"):
		text = node + " does not speak the JSON codec: it answered in binary protobuf (" + m[1] + ")" + grpcOnly + "; use binary protobuf (Config.JSON = false, the default)"
	case m != nil && isGRPC(m[1]) && protocol != connect.ProtocolGRPC:
		text = node + " does not speak " + protocolName(protocol) + ": it answered in gRPC (content-type " + m[1] + ")" + grpcOnly + useGRPC
	case protocol != connect.ProtocolGRPC && (strings.Contains(msg, "415") && strings.Contains(msg, "Unsupported Media Type")):
		text = node + " does not speak " + protocolName(protocol) + ": it refused the content type (415 Unsupported Media Type)" + grpcOnly + useGRPC
	default:
		return nil
	}
	return connect.NewError(connect.CodeFailedPrecondition, &protocolError{text: text, cause: err})
}

// HTTP2Reply reports whether msg, net/http's error for an HTTP/1.1
// exchange, shows an HTTP/2-only server at the other end. Such a server
// (tonic, grpc-go) writes its SETTINGS frame on every new connection: if
// the frames come after the request, net/http reads them as a "malformed
// HTTP response" that starts with a frame header; if they come before
// it, as bytes on an idle connection ("readLoopPeekFailLocked" with no
// error). Which one depends on timing, so both count.
func HTTP2Reply(msg string) bool {
	return strings.Contains(msg, `malformed HTTP response "\x00\x00`) ||
		strings.Contains(msg, "readLoopPeekFailLocked") && strings.Contains(msg, "<nil>")
}

// protocolError is ProtocolMismatch's message, wrapping the sentinel and
// what the transport said.
type protocolError struct {
	text  string
	cause error
}

func (e *protocolError) Error() string   { return e.text }
func (e *protocolError) Unwrap() []error { return []error{ErrProtocolNotServed, e.cause} }

// isGRPC reports whether a content type is gRPC's (not gRPC-Web's).
func isGRPC(ct string) bool {
	return strings.HasPrefix(ct, "application/grpc") && !strings.HasPrefix(ct, "application/grpc-web")
}

func protocolName(p string) string {
	switch p {
	case connect.ProtocolConnect:
		return "the Connect protocol"
	case connect.ProtocolGRPCWeb:
		return "gRPC-Web"
	case connect.ProtocolGRPC:
		return "gRPC"
	}
	return "the configured protocol"
}
