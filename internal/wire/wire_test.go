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
	if got := err.Meta().Get(HeaderLeaderHint); got != "127.0.0.1:9002" {
		t.Fatalf("leader-hint = %q, want the address (what every SDK dials)", got)
	}
	if got := err.Meta().Get(HeaderLeaderID); got != "n2" {
		t.Fatalf("leader-id = %q, want the node id", got)
	}
	// Metadata alone (a server that sends no detail) is enough, in every
	// spelling and either form of the hint.
	for _, tc := range []struct {
		key, val     string
		wantID, addr string
	}{
		{HeaderLeaderHint, "10.0.0.3:9003", "", "10.0.0.3:9003"},
		{HeaderLeaderHint, "n3", "n3", ""},
		{HeaderLegacyLeader, "n3", "n3", ""},
		{"X-Leader-Hint", "host3:9003", "", "host3:9003"},
		{HeaderLeaderID, "n3", "n3", ""},
		{HeaderLeaderAddr, "[::1]:9003", "", "[::1]:9003"},
	} {
		bare := connect.NewError(connect.CodeUnavailable, errors.New("NOT_LEADER: elsewhere"))
		bare.Meta().Set(tc.key, tc.val)
		if h, ok := ParseNotLeader(bare); !ok || h.LeaderID != tc.wantID || h.LeaderAddr != tc.addr {
			t.Errorf("%s: %q parsed as %+v, %v; want id %q addr %q", tc.key, tc.val, h, ok, tc.wantID, tc.addr)
		}
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
