package interceptors_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/wire"
)

// notLeaderChain is Retry around Routing around a UnaryFunc that answers
// each attempt with reply(target). Retry's backoff is 1ms so retries are
// cheap but counted apart from redirects.
func notLeaderChain(maxAttempts int, reply func(target string) error) (connect.UnaryFunc, *interceptors.Retry) {
	retry := interceptors.NewRetry(interceptors.RetryPolicy{MaxAttempts: maxAttempts, InitialDelay: time.Millisecond, Jitter: -1})
	router := interceptors.NewRouter([]string{"n1:1", "n2:1"}, 8)
	res := connect.NewResponse(&v1.PutResponse{Version: &v1.Version{Index: 1}})
	var next connect.UnaryFunc = func(ctx context.Context, _ connect.AnyRequest) (connect.AnyResponse, error) {
		if err := reply(interceptors.TargetFrom(ctx)); err != nil {
			return nil, err
		}
		return res, nil
	}
	next = interceptors.Routing(router).WrapUnary(next)
	return retry.WrapUnary(next), retry
}

func putReq() connect.AnyRequest {
	return connect.NewRequest(&v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: "i"})
}

// A NOT_LEADER reply naming a node the router knows is a redirect: the
// next attempt goes there at once, without a backoff.
func TestNotLeaderTrustedHintRedirects(t *testing.T) {
	call, retry := notLeaderChain(5, func(target string) error {
		if target != "n2:1" {
			return wire.NewNotLeaderError(0, "n2", "n2:1")
		}
		return nil
	})
	if _, err := call(context.Background(), putReq()); err != nil {
		t.Fatal(err)
	}
	if s := retry.Stats(); s.Redirects > 1 || s.Retries != 0 {
		t.Fatalf("redirects %d retries %d, want ≤1 0", s.Redirects, s.Retries)
	}
}

// A NOT_LEADER reply naming a host the router may not dial gives the
// router nowhere to redirect to: the next attempt is a retry, paced by
// the backoff and charged to the budget, not a free redirect.
func TestNotLeaderUntrustedHintIsNotARedirect(t *testing.T) {
	var attempts int
	call, retry := notLeaderChain(5, func(string) error {
		if attempts++; attempts == 1 {
			return wire.NewNotLeaderError(0, "evil", "evil:443")
		}
		return nil
	})
	if _, err := call(context.Background(), putReq()); err != nil {
		t.Fatal(err)
	}
	if s := retry.Stats(); s.Redirects != 0 || s.Retries != 1 {
		t.Fatalf("redirects %d retries %d, want 0 1", s.Redirects, s.Retries)
	}
}

// The error a call returns is the node's reply itself, whatever the
// router noted on it.
func TestNotLeaderReturnsTheReply(t *testing.T) {
	reply := wire.NewNotLeaderError(0, "n2", "n2:1")
	call, _ := notLeaderChain(1, func(string) error { return reply })
	_, err := call(context.Background(), putReq())
	var ce *connect.Error
	if !errors.As(err, &ce) || ce != reply {
		t.Fatalf("err = %T %v, want the NOT_LEADER reply", err, err)
	}
	if _, ok := err.(*connect.Error); !ok { //nolint:errorlint // the reply itself, not something wrapping it, is what is checked
		t.Fatalf("err is a %T, want the *connect.Error itself", err)
	}
}

// A redirect goes to the leader the reply names even if the router holds
// that node suspect (a cluster watch that timed out under load marks every
// node so): the hint, from a node that just answered, is fresher than the
// suspicion. Routing the redirect afresh sent it past the suspect leader
// to another follower, again and again, and the call failed with a
// NOT_LEADER reply that named the leader (seen in examples' TestExamples/
// stats on a loaded machine).
func TestNotLeaderRedirectReachesSuspectLeader(t *testing.T) {
	retry := interceptors.NewRetry(interceptors.RetryPolicy{MaxAttempts: 5, InitialDelay: time.Millisecond, Jitter: -1})
	router := interceptors.NewRouter([]string{"n1:1", "n2:1", "n3:1"}, 8)
	router.(interceptors.HealthRouter).Suspect(-1, "n2:1")
	var attempts, atLeader int
	res := connect.NewResponse(&v1.PutResponse{Version: &v1.Version{Index: 1}})
	var next connect.UnaryFunc = func(ctx context.Context, _ connect.AnyRequest) (connect.AnyResponse, error) {
		attempts++
		if interceptors.TargetFrom(ctx) != "n2:1" {
			return nil, wire.NewNotLeaderError(0, "n2", "n2:1")
		}
		atLeader++
		return res, nil
	}
	call := retry.WrapUnary(interceptors.Routing(router).WrapUnary(next))
	// The followers are not suspect (they answered since): the leader is
	// never tried unless the redirect goes where the hint says.
	for i := range 20 {
		if _, err := call(context.Background(), putReq()); err != nil {
			t.Fatalf("call %d after %d attempts: %v", i, attempts, err)
		}
	}
	if atLeader != 20 {
		t.Fatalf("%d of 20 calls reached the leader", atLeader)
	}
	if s := retry.Stats(); s.Retries != 0 {
		t.Fatalf("%d retries, want none: every NOT_LEADER named the leader", s.Retries)
	}
}
