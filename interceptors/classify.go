package interceptors

import (
	"errors"
	"io"
	"net"
	"net/url"
	"strings"
	"syscall"

	"github.com/norikv/norikv-go/internal/wire"
)

// ConnectionError reports that a node could not be reached: refused,
// reset, timed out while dialing, or a DNS failure. The *Error a call
// returns wraps it, so errors.As finds both.
type ConnectionError struct {
	Addr string // host:port, when known
	Err  error  // the network error
}

// Error formats as "norikv: cannot reach host:port: cause".
func (e *ConnectionError) Error() string {
	if e.Addr == "" {
		return "norikv: connection failed: " + e.Err.Error()
	}
	return "norikv: cannot reach " + e.Addr + ": " + e.Err.Error()
}

// Unwrap returns the network error.
func (e *ConnectionError) Unwrap() error { return e.Err }

// connectionFailure finds a network-level failure in err's chain and
// returns it as a *ConnectionError, or nil if err is not one.
func connectionFailure(err error) *ConnectionError {
	if ce, ok := errors.AsType[*ConnectionError](err); ok {
		return ce
	}
	var op *net.OpError
	var dns *net.DNSError
	switch {
	case errors.As(err, &op):
		addr := ""
		if op.Addr != nil {
			addr = op.Addr.String()
		}
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			if u, perr := url.Parse(ue.URL); perr == nil {
				addr = u.Host
			}
		}
		return &ConnectionError{Addr: addr, Err: op}
	case errors.As(err, &dns):
		return &ConnectionError{Addr: dns.Name, Err: dns}
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, net.ErrClosed),
		// A connection that died mid-response: connect reports a
		// truncated body as INTERNAL "incomplete envelope".
		errors.Is(err, io.ErrUnexpectedEOF),
		// net/http's HTTP/2 transport reports a dropped connection only
		// by these messages: lost when the peer went away, force closed
		// when a write error made it close the whole connection (seen
		// when a node stops mid-call).
		strings.Contains(err.Error(), "client connection lost"),
		strings.Contains(err.Error(), "client connection force closed"):
		return &ConnectionError{Err: err}
	}
	return nil
}

// notSent reports whether err proves the request never reached a node: the
// connection could not be opened (refused, DNS, dial timeout).
func notSent(err error) bool {
	var op *net.OpError
	var dns *net.DNSError
	return errors.As(err, &op) && op.Op == "dial" || errors.As(err, &dns)
}

// NotApplied reports whether err proves the node did not apply the
// request: it was never sent, or the node answered NOT_LEADER.
func NotApplied(err error) bool {
	_, nl := wire.ParseNotLeader(err)
	return nl || notSent(err)
}

// IsConnectionFailure reports whether err means the node was not reached
// or dropped the connection: such calls are safe to retry elsewhere.
func IsConnectionFailure(err error) bool { return connectionFailure(err) != nil }
