package wire

import (
	"errors"
	"fmt"
	"testing"

	"connectrpc.com/connect"
)

func TestParseConsistency(t *testing.T) {
	for s, want := range map[string]Consistency{
		"": Lease, "lease": Lease, "strong": Linearizable, "linearizable": Linearizable,
		"eventual": StaleOK, "stale_ok": StaleOK, "bounded_staleness": StaleOK,
	} {
		got, ok := ParseConsistency(s)
		if !ok || got != want {
			t.Errorf("ParseConsistency(%q) = %v, %v; want %v, true", s, got, ok, want)
		}
		if again, _ := ParseConsistency(got.Spelling()); again != want {
			t.Errorf("%v spelled %q parses back as %v", want, got.Spelling(), again)
		}
	}
	for _, bad := range []string{"LEASE", "Strong", "stale", " "} {
		if _, ok := ParseConsistency(bad); ok {
			t.Errorf("ParseConsistency(%q) accepted", bad)
		}
	}
	if StaleOK.NeedsLeader() || !Lease.NeedsLeader() || !Linearizable.NeedsLeader() {
		t.Error("only stale_ok reads may skip the leader")
	}
}

func TestNotLeaderRoundTrip(t *testing.T) {
	err := NewNotLeaderError(7, "n2", "127.0.0.1:9002")
	if err.Code() != connect.CodeUnavailable {
		t.Fatalf("code = %v", err.Code())
	}
	wrapped := fmt.Errorf("attempt 1: %w", err)
	h, ok := ParseNotLeader(wrapped)
	if !ok || h.LeaderID != "n2" || h.LeaderAddr != "127.0.0.1:9002" {
		t.Fatalf("ParseNotLeader = %+v, %v", h, ok)
	}
	// Metadata alone (a server that sends no detail) is enough.
	bare := connect.NewError(connect.CodeUnavailable, errors.New("NOT_LEADER: elsewhere"))
	bare.Meta().Set(HeaderLegacyLeader, "n3")
	if h, ok := ParseNotLeader(bare); !ok || h.LeaderID != "n3" {
		t.Fatalf("legacy header: %+v, %v", h, ok)
	}
	// The upstream vector variant.
	if _, ok := ParseNotLeader(connect.NewError(connect.CodeFailedPrecondition, errors.New("Not leader for shard 3"))); !ok {
		t.Fatal("FAILED_PRECONDITION Not leader not recognised")
	}
	// Plain UNAVAILABLE and CAS failures are not NOT_LEADER.
	for _, e := range []error{
		connect.NewError(connect.CodeUnavailable, errors.New("overloaded")),
		connect.NewError(connect.CodeFailedPrecondition, errors.New("version mismatch")),
		errors.New("NOT_LEADER but not a connect error"),
	} {
		if _, ok := ParseNotLeader(e); ok {
			t.Errorf("ParseNotLeader(%v) = true", e)
		}
	}
}
