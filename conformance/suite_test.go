package conformance

import (
	"bytes"
	"context"
	"net"
	"strings"
	"testing"
)

// TestSuiteAgainstFake checks the suite itself: a contract-following fake
// passes every KV and cluster cell, and Vector (which the fake lacks) is
// reported as skipped, not passed.
func TestSuiteAgainstFake(t *testing.T) {
	t.Parallel()
	fc := startFake(t, 3, 16, false)
	rep, err := Run(context.Background(), Target{Addrs: fc.addrs()[:1], AllowTopologyChanges: true}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteTable(&b)
	t.Log("\n" + b.String())
	if rep.Failed() {
		t.Fatal("the suite fails a conforming fake")
	}
	res, _ := rep.Lookup("vector_data", "conn/pb/h2")
	if res.Status != StatusSkip || !strings.Contains(res.Reason, "UNIMPLEMENTED") {
		t.Errorf("vector_data on a target without Vector = %v %q, want skip naming UNIMPLEMENTED", res.Status, res.Reason)
	}
	res, _ = rep.Lookup("versions", "grpc/json/h1")
	if res.Status != StatusSkip || res.Reason != "gRPC requires HTTP/2" {
		t.Errorf("gRPC over HTTP/1.1 = %v %q, want skip", res.Status, res.Reason)
	}
}

// TestSuiteHasTeeth: a fake with the upstream defect (if_match ignored on
// delete) fails cas_delete on every transport.
func TestSuiteHasTeeth(t *testing.T) {
	t.Parallel()
	fc := startFake(t, 2, 8, false)
	fc.ignoreDeleteIfMatch = true
	rep, err := Run(context.Background(), Target{Addrs: fc.addrs()}, Options{Cases: []string{"cas_delete", "delete"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range rep.Transports {
		res, _ := rep.Lookup("cas_delete", tr)
		if strings.HasPrefix(tr, "grpc/") && strings.HasSuffix(tr, "/h1") {
			continue
		}
		if res.Status != StatusFail || !strings.Contains(res.Reason, "ignored") {
			t.Errorf("cas_delete over %s against a server ignoring if_match = %v %q, want a failure", tr, res.Status, res.Reason)
		}
		if res, _ := rep.Lookup("delete", tr); res.Status != StatusPass {
			t.Errorf("delete over %s = %v %q, want pass (only delete CAS is broken)", tr, res.Status, res.Reason)
		}
	}
}

// TestSuiteVectorAgainstFake: the vector cases pass a brute-force fake
// that follows the contract.
func TestSuiteVectorAgainstFake(t *testing.T) {
	t.Parallel()
	fc := startFake(t, 2, 8, true)
	rep, err := Run(context.Background(), Target{Addrs: fc.addrs()}, Options{
		Cases: []string{"limits_vector", "vector_index", "vector_data", "vector_search"},
	})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	_ = rep.WriteTable(&b)
	t.Log("\n" + b.String())
	if rep.Failed() {
		t.Fatal("the suite fails a conforming vector fake")
	}
	if pass, _, _ := rep.Counts(); pass != 4*10 {
		t.Errorf("%d cells passed, want 40", pass)
	}
}

// TestRunUnreachable: a target nobody listens on is an error of Run, not
// a report full of failures.
func TestRunUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
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
	fc := startFake(t, 1, 4, false)
	rep, err := Run(context.Background(), Target{Addrs: fc.addrs(), AllowTopologyChanges: true},
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
