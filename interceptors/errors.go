package interceptors

import (
	"context"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"unicode/utf8"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/wire"
)

// Sentinel errors, for errors.Is. Every SDK error that means one of these
// wraps it.
var (
	// ErrKeyNotFound: Get of a missing or expired key (NOT_FOUND, or OK
	// with an unset version from servers that answer that way).
	ErrKeyNotFound = errors.New("norikv: key not found")
	// ErrVersionMismatch: a compare-and-swap (IfMatch) lost.
	ErrVersionMismatch = errors.New("norikv: version mismatch")
	// ErrAlreadyExists: the server answered ALREADY_EXISTS.
	ErrAlreadyExists = errors.New("norikv: already exists")
	// ErrIndexNotFound: a vector call named a namespace with no index.
	ErrIndexNotFound = errors.New("norikv: vector index not found")
	// ErrClosed: the client was closed before the call.
	ErrClosed = errors.New("norikv: client closed")
)

// Error is the one error type every SDK call returns. It carries the
// status code, the server's message and where the call was going, and
// wraps both the matching sentinel (ErrKeyNotFound, ...) and the
// underlying cause (a *connect.Error, a *ConnectionError, a context
// error), so errors.Is and errors.As see through it.
type Error struct {
	// Code is the Connect/gRPC status code.
	Code connect.Code
	// Message is the server's (or the SDK's) message, without prefixes.
	Message string
	// Operation is the RPC, e.g. "Put" or "VectorSearch".
	Operation string
	// Key is the request's key, when it has one.
	Key string
	// Namespace is the request's vector namespace, when it has one.
	Namespace string

	sentinel error
	cause    error
}

// NewError builds an *Error; sentinel and cause may be nil.
func NewError(code connect.Code, msg string, sentinel, cause error) *Error {
	return &Error{Code: code, Message: msg, sentinel: sentinel, cause: cause}
}

// Error formats as `norikv: Put key "k" not_found: message`, on one line.
// A key or namespace longer than maxQuoted bytes is cut, with its length
// noted (`key "user:aaaa…" (5000 bytes)`): the Key and Namespace fields
// keep it whole.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("norikv: ")
	if e.Operation != "" {
		b.WriteString(e.Operation)
		b.WriteByte(' ')
	}
	if e.Key != "" {
		b.WriteString("key ")
		writeQuoted(&b, e.Key)
		b.WriteByte(' ')
	}
	if e.Namespace != "" {
		b.WriteString("namespace ")
		writeQuoted(&b, e.Namespace)
		b.WriteByte(' ')
	}
	b.WriteString(e.Code.String())
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(oneLine.Replace(e.Message))
	}
	return b.String()
}

// oneLine joins the lines of a multi-line message (errors.Join's, or a
// server's) so that every error prints on one line.
var oneLine = strings.NewReplacer("\r\n", "; ", "\n", "; ", "\r", "; ")

// maxQuoted is the most bytes of a key or namespace an error message
// shows.
const maxQuoted = 64

// writeQuoted writes s Go-quoted, so binary keys print as escapes. Beyond
// maxQuoted bytes it is cut on a UTF-8 boundary and its length noted.
func writeQuoted(b *strings.Builder, s string) {
	if len(s) <= maxQuoted {
		b.WriteString(strconv.Quote(s))
		return
	}
	// Back off to the start of the rune the cut falls in; a key that is
	// not UTF-8 at all is cut at most three bytes short.
	n := maxQuoted
	for n > maxQuoted-utf8.UTFMax && !utf8.RuneStart(s[n]) {
		n--
	}
	q := strconv.Quote(s[:n])
	b.WriteString(q[:len(q)-1])
	b.WriteString("…\" (")
	b.WriteString(strconv.Itoa(len(s)))
	b.WriteString(" bytes)")
}

// Unwrap returns the sentinel and the cause, whichever are set.
func (e *Error) Unwrap() []error {
	switch {
	case e.sentinel != nil && e.cause != nil:
		return []error{e.sentinel, e.cause}
	case e.sentinel != nil:
		return []error{e.sentinel}
	case e.cause != nil:
		return []error{e.cause}
	}
	return nil
}

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
	var ce *ConnectionError
	if errors.As(err, &ce) {
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
		// by this message.
		strings.Contains(err.Error(), "client connection lost"):
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

// IsConnectionFailure reports whether err means the node was not reached
// or dropped the connection: such calls are safe to retry elsewhere.
func IsConnectionFailure(err error) bool { return connectionFailure(err) != nil }

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
	var ce *connect.Error
	if errors.As(err, &ce) {
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
	case connect.CodeFailedPrecondition:
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
