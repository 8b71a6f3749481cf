package interceptors

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
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
	// ErrOutcomeUnknown: a write may or may not have been applied. It
	// went without an idempotency key (the cluster does not announce
	// bounded idempotency memory, so the SDK stamps none) and failed in a
	// way that does not prove it was not applied, so it was not retried;
	// or a server that keeps client sessions no longer held its answer
	// (OUT_OF_RANGE "idempotency session"). Read the key to find out, or
	// give writes a key (WithIdempotencyKey) to have them retried.
	ErrOutcomeUnknown = errors.New("norikv: write outcome unknown")
)

// OutcomeUnknown is the error of a write without an idempotency key that
// failed with err, which does not prove it was not applied: err's code
// and cause, matching ErrOutcomeUnknown.
func OutcomeUnknown(ctx context.Context, err error) *Error {
	e := Convert(ctx, "", err)
	e.sentinel = ErrOutcomeUnknown
	e.Message = "outcome unknown: the write carried no idempotency key (the cluster does not announce bounded idempotency memory), so it was not retried after a failure that does not prove it was not applied: " + e.Message
	return e
}

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
