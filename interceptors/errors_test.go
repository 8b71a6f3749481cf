package interceptors_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/interceptors"
)

// When the ctx ends while retrying, the error names both the ctx's end and
// the last attempt's failure, on one line.
func TestErrorAfterRetriesIsOneLine(t *testing.T) {
	stub := func(context.Context, connect.AnyRequest) (connect.AnyResponse, error) {
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("down"))
	}
	retry := interceptors.NewRetry(interceptors.RetryPolicy{MaxAttempts: 1000, InitialDelay: time.Millisecond, Jitter: -1, BudgetRatio: -1})
	call := interceptors.Errors().WrapUnary(retry.WrapUnary(stub))
	// Long enough for the first attempt to run on a loaded machine: the
	// message must carry its failure.
	ctx, cancel := context.WithTimeout(context.Background(), 250*time.Millisecond)
	defer cancel()
	_, err := call(ctx, connect.NewRequest(&v1.PutRequest{Key: []byte("k"), IdempotencyKey: "one-write"}))
	const want = `norikv: key "k" deadline_exceeded: context deadline exceeded: unavailable: down`
	if err == nil || err.Error() != want {
		t.Fatalf("err = %q\nwant  %q", err, want)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("errors.Is(err, DeadlineExceeded) = false: %v", err)
	}
	if _, ok := errors.AsType[*connect.Error](err); !ok {
		t.Fatal("the attempt's *connect.Error is not in the chain")
	}
}

// Messages with newlines (a joined cause, a multi-line server message)
// still print on one line.
func TestErrorMessageNewlinesFlattened(t *testing.T) {
	e := interceptors.NewError(connect.CodeUnavailable, "first\nsecond\r\nthird", nil, nil)
	if got, want := e.Error(), "norikv: unavailable: first; second; third"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

// Long keys and namespaces are cut in the message, on a UTF-8 boundary,
// with the full length noted; *Error keeps them whole.
func TestErrorCutsLongKeys(t *testing.T) {
	long := "user:" + strings.Repeat("a", 4995)
	cases := []struct {
		name, key, ns, want string
	}{
		{"short", "user:1", "", `norikv: Put key "user:1" unavailable: x`},
		{"exactly 64", strings.Repeat("b", 64), "", `norikv: Put key "` + strings.Repeat("b", 64) + `" unavailable: x`},
		{"long", long, "", `norikv: Put key "user:` + strings.Repeat("a", 59) + `…" (5000 bytes) unavailable: x`},
		// 63 ASCII bytes then "é" (2 bytes): the cut falls inside é and
		// backs off before it.
		{"utf8", strings.Repeat("c", 63) + "é" + strings.Repeat("d", 10), "", `norikv: Put key "` + strings.Repeat("c", 63) + `…" (75 bytes) unavailable: x`},
		// Binary keys are quoted with escapes; the cut counts raw bytes.
		{"binary", "\x00\xff" + strings.Repeat("\x01", 100), "", `norikv: Put key "\x00\xff` + strings.Repeat(`\x01`, 62) + `…" (102 bytes) unavailable: x`},
		{"namespace", "", strings.Repeat("n", 300), `norikv: Put namespace "` + strings.Repeat("n", 64) + `…" (300 bytes) unavailable: x`},
	}
	for _, c := range cases {
		e := interceptors.NewError(connect.CodeUnavailable, "x", nil, nil)
		e.Operation, e.Key, e.Namespace = "Put", c.key, c.ns
		if got := e.Error(); got != c.want {
			t.Errorf("%s:\n got %q\nwant %q", c.name, got, c.want)
		}
		if e.Key != c.key || e.Namespace != c.ns {
			t.Errorf("%s: *Error fields changed", c.name)
		}
	}
}

// The whole path: a raw client's Put of a 5,000-byte key fails validation
// with a short one-line message, and the *Error keeps the key.
func TestErrorLongKeyThroughChain(t *testing.T) {
	fc := startServer(t, 1, 8)
	kv := rawKv(fc, interceptors.NewRetry(interceptors.RetryPolicy{}))
	key := "user:" + strings.Repeat("a", 4995)
	_, err := kv.Put(context.Background(), &v1.PutRequest{Key: []byte(key), Value: []byte("v")})
	var e *interceptors.Error
	if !errors.As(err, &e) || e.Key != key || e.Code != connect.CodeInvalidArgument {
		t.Fatalf("err = %v", err)
	}
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") || !strings.HasSuffix(msg, `…" (5000 bytes) invalid_argument: validation error: key: must be at most 1024 bytes`) {
		t.Fatalf("message (%d bytes): %q", len(msg), msg)
	}
}
