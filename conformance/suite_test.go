package conformance

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/norikv/norikv-go/norikvtest"
	"github.com/norikv/norikv-go/server"
)

// startServer starts the embedded server with the given defects switched
// on: with none, the conforming target the suite must pass; with some, the
// target whose every defect the suite must name.
func startServer(t *testing.T, nodes, shards int, d server.Defects) *norikvtest.Cluster {
	t.Helper()
	return norikvtest.Start(t, norikvtest.WithNodes(nodes), norikvtest.WithShards(shards), norikvtest.WithDefects(d))
}

// TestSuiteAgainstServer checks the suite itself: the embedded server,
// with Vector and Kv.Batch switched off (as the Rust server has no batch),
// passes every KV and cluster cell over the whole matrix with no finding,
// the report names the contract's forms, and Vector and batch are reported
// as skipped, not passed.
func TestSuiteAgainstServer(t *testing.T) {
	t.Parallel()
	fc := startServer(t, 3, 16, server.Defects{NoVector: true, NoBatch: true})
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs()[:1], AllowTopologyChanges: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteTable(&b)
	t.Log("\n" + b.String())
	if rep.Failed() || len(rep.Findings()) > 0 {
		t.Fatalf("the suite fails a conforming server (findings %v)", rep.Findings())
	}
	if rep.MissingKey != MissingKeyOKNoVersion || rep.LeaderHint != LeaderHintAddress {
		t.Errorf("forms = %q, %q, want the contract's %q, %q", rep.MissingKey, rep.LeaderHint, MissingKeyOKNoVersion, LeaderHintAddress)
	}
	res, _ := rep.Lookup("vector_data", "conn/pb/h2")
	if res.Status != StatusSkip || !strings.Contains(res.Reason, "UNIMPLEMENTED") {
		t.Errorf("vector_data on a target without Vector = %v %q, want skip naming UNIMPLEMENTED", res.Status, res.Reason)
	}
	res, _ = rep.Lookup("batch", "conn/pb/h2")
	if res.Status != StatusSkip || !strings.Contains(res.Reason, "UNIMPLEMENTED") {
		t.Errorf("batch on a target without Kv.Batch = %v %q, want skip naming UNIMPLEMENTED", res.Status, res.Reason)
	}
	res, _ = rep.Lookup("versions", "grpc/json/h1")
	if res.Status != StatusSkip || res.Reason != "gRPC requires HTTP/2" {
		t.Errorf("gRPC over HTTP/1.1 = %v %q, want skip", res.Status, res.Reason)
	}
}

// TestSuiteNamesDefects: against a server with the known production defects
// switched on, every cell that meets one is a finding naming it (never a
// crash, never an anonymous failure), the cells that meet none pass, and
// the report says which missing-key and leader-hint forms the target uses.
func TestSuiteNamesDefects(t *testing.T) {
	t.Parallel()
	fc := startServer(t, 3, 8, server.Defects{MissingKeyNotFound: true, IgnoreIdempotency: true, IgnoreDeleteIfMatch: true, NoLeaderHint: true})
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs()[:1]}, Options{
		Cases: []string{"cas_delete", "idempotency", "not_leader", "delete", "cas_put", "versions", "ttl"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = rep.WriteTable(&b)
	want := map[string]string{
		"cas_delete":  "if_match on Delete ignored",
		"idempotency": "idempotency keys ignored",
		"not_leader":  "leader hints missing",
	}
	checkCells(t, rep, want)
	t.Log("\n" + b.String())
	res, _ := rep.Lookup("cas_delete", "conn/pb/h1")
	if !strings.Contains(res.Reason, "data loss") {
		t.Errorf("cas_delete finding %q does not say it is data loss", res.Reason)
	}
	if rep.Failed() || rep.MissingKey != MissingKeyNotFound || rep.LeaderHint != LeaderHintMissing {
		t.Errorf("failed %v, forms %q, %q; want no plain failure and forms %q, %q", rep.Failed(), rep.MissingKey, rep.LeaderHint, MissingKeyNotFound, LeaderHintMissing)
	}
	if got, want := rep.Findings(), []Defect{DefectDeleteIfMatchIgnored, DefectIdempotencyIgnored, DefectLeaderHintsMissing}; !slices.Equal(got, want) {
		t.Errorf("Findings() = %v, want %v", got, want)
	}
	for _, line := range []string{"missing key on Get: NOT_FOUND", "leader-hint: absent", "FINDINGS"} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("table lacks %q:\n%s", line, b.String())
		}
	}
}

// TestSuiteNamesIdempotencyReuse: the Rust server's cache answers a reused
// idempotency key with the first result whatever the request; that is its
// own finding, and the rest of the idempotency rules still pass.
func TestSuiteNamesIdempotencyReuse(t *testing.T) {
	t.Parallel()
	fc := startServer(t, 2, 8, server.Defects{IdempotencyIgnoresRequest: true})
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs()}, Options{Cases: []string{"idempotency", "cas_delete"}})
	if err != nil {
		t.Fatal(err)
	}
	checkCells(t, rep, map[string]string{"idempotency": "idempotency key reuse unchecked"})
	res, _ := rep.Lookup("idempotency", "grpc/pb/h2")
	if strings.Contains(res.Reason, "idempotency keys ignored") {
		t.Errorf("a cache that replays the first result is not one that ignores keys: %q", res.Reason)
	}
}

// TestSuiteLeaderHintNodeID: an older server's node id in leader-hint is
// accepted, and the report says that is the form it uses.
func TestSuiteLeaderHintNodeID(t *testing.T) {
	t.Parallel()
	fc := startServer(t, 3, 8, server.Defects{LeaderHintNodeID: true})
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs(), AllowTopologyChanges: true}, Options{Cases: []string{"not_leader", "topology", "versions"}})
	if err != nil {
		t.Fatal(err)
	}
	checkCells(t, rep, nil)
	var b strings.Builder
	_ = rep.WriteTable(&b)
	if !strings.Contains(b.String(), "leader-hint: the leader's node id") {
		t.Errorf("table does not say the hint is a node id:\n%s", b.String())
	}
}

// checkCells checks that every runnable cell of rep is a finding whose
// reason names want[case], or a pass for cases not in want.
func checkCells(t *testing.T, rep *Report, want map[string]string) {
	t.Helper()
	for _, c := range rep.Cases {
		for _, tr := range rep.Transports {
			res, _ := rep.Lookup(c, tr)
			if res.Status == StatusSkip && res.Reason == "gRPC requires HTTP/2" {
				continue
			}
			if w, ok := want[c]; ok {
				if res.Status.String() != "finding" || !strings.Contains(res.Reason, w) {
					t.Errorf("%s over %s = %v %q, want a finding naming %q", c, tr, res.Status, res.Reason, w)
				}
			} else if res.Status != StatusPass {
				t.Errorf("%s over %s = %v %q, want pass", c, tr, res.Status, res.Reason)
			}
		}
	}
}

// TestShardCountMismatch: told the wrong shard count, the run says so
// instead of blaming the server for versions that do not add up.
func TestShardCountMismatch(t *testing.T) {
	t.Parallel()
	fc := startServer(t, 2, 16, server.Defects{})
	_, err := Run(context.Background(), Target{Addrs: fc.Addrs(), TotalShards: 64}, Options{Cases: []string{"versions"}})
	if err == nil || !strings.Contains(err.Error(), "shard count mismatch: the cluster has 16 shards") {
		t.Fatalf("Run with TotalShards 64 against 16 shards: err = %v, want a shard count mismatch", err)
	}
}

// TestSuiteVectorAgainstServer: the vector cases pass the embedded
// server on a small cluster.
func TestSuiteVectorAgainstServer(t *testing.T) {
	t.Parallel()
	fc := startServer(t, 2, 8, server.Defects{})
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs()}, Options{
		Cases: []string{"limits_vector", "vector_index", "vector_data", "vector_search"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteTable(&b)
	t.Log("\n" + b.String())
	if rep.Failed() {
		t.Fatal("the suite fails a conforming vector server")
	}
	if pass := rep.Counts().Pass; pass != 4*10 {
		t.Errorf("%d cells passed, want 40", pass)
	}
}

// TestRunUnreachable: a target nobody listens on is an error of Run, not
// a report full of failures.
func TestRunUnreachable(t *testing.T) {
	t.Parallel()
	// Port 1, which only root may bind: a port taken from the OS and
	// released could be another test's server by the time Run dials it.
	const addr = "127.0.0.1:1"
	if _, err := Run(context.Background(), Target{Addrs: []string{addr}}, Options{}); err == nil {
		t.Fatal("Run against a closed port: want an error")
	}
	if _, err := Run(context.Background(), Target{Addrs: []string{addr}}, Options{Cases: []string{"nope"}}); err == nil || !strings.Contains(err.Error(), "unknown case") {
		t.Fatalf("unknown case: got %v", err)
	}
}

// TestSuiteSingleNode: rules that need two nodes are skipped with the
// reason on a one-node target, never passed.
func TestSuiteSingleNode(t *testing.T) {
	t.Parallel()
	fc := startServer(t, 1, 4, server.Defects{})
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs(), AllowTopologyChanges: true},
		Options{Cases: []string{"not_leader", "topology"}, Transports: []string{"conn/pb/h1"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rep.Cases {
		if res, _ := rep.Lookup(c, "conn/pb/h1"); res.Status != StatusSkip || res.Reason == "" {
			t.Errorf("%s on one node = %v %q, want skip with a reason", c, res.Status, res.Reason)
		}
	}
}

// TestSuiteNamesSessionsUnsupported: a server without client sessions
// (the Rust server) serves the sessions case's plain writes and gets the
// named finding, not a failure; one with sessions passes it.
func TestSuiteNamesSessionsUnsupported(t *testing.T) {
	t.Parallel()
	fc := startServer(t, 2, 8, server.Defects{NoSessions: true})
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs()}, Options{Cases: []string{"sessions", "idempotency"}})
	if err != nil {
		t.Fatal(err)
	}
	checkCells(t, rep, map[string]string{"sessions": "idempotency sessions unsupported"})
	if got, want := rep.Findings(), []Defect{DefectSessionsUnsupported}; !slices.Equal(got, want) {
		t.Errorf("Findings() = %v, want %v", got, want)
	}
}

// TestTTLCaseOnASlowNode: a node (or a machine) so slow that a put and a
// get take longer than the ttl case's first TTL (300 ms) makes that first
// read prove nothing; the case tries again with a longer TTL and still
// checks the same things, instead of failing "inconclusive" as it did on
// loaded CI machines. Each Put and Get here waits 200 ms at the node.
func TestTTLCaseOnASlowNode(t *testing.T) {
	t.Parallel()
	fc := startServer(t, 1, 4, server.Defects{})
	fc.SetFaults(server.DelayCalls(func(_, procedure string) time.Duration {
		if strings.HasSuffix(procedure, "/Put") || strings.HasSuffix(procedure, "/Get") {
			return 200 * time.Millisecond
		}
		return 0
	}, nil))
	rep, err := Run(context.Background(), Target{Addrs: fc.Addrs()}, Options{Cases: []string{"ttl"}})
	if err != nil {
		t.Fatal(err)
	}
	checkCells(t, rep, nil)
}
