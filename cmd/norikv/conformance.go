package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/norikv/norikv-go/conformance"
	"github.com/norikv/norikv-go/server"
)

func init() {
	register(&command{Name: "conformance", Summary: "check a cluster against the wire contract over every protocol", Run: runConformance})
}

const conformanceExamples = `  norikv conformance
      judge a fresh embedded cluster (3 nodes, 64 shards) over all 12 transports
  norikv conformance --target node1:9001,node2:9001 --token s3cret
      judge your cluster; it only writes keys under a random prefix and removes them
  norikv conformance --target 127.0.0.1:9001 --cases versions,cas_put --transports grpc/pb/h2
  norikv conformance --json
      the report as JSON: one object with every cell, the counts, the findings
      and the forms; snake_case names, durations in milliseconds (duration_ms,
      elapsed_ms), lists always [] when empty
  norikv conformance --target 127.0.0.1:9001 --junit conformance.xml
      also write JUnit XML (one test case per case × transport) for CI
  norikv conformance --target 127.0.0.1:9001 --speaks grpc,pb,h2
      declare what the target speaks instead of probing it (or --features FILE)

Before judging, the suite probes each transport once (a Kv.Get of a key
nobody wrote) and judges only those the target serves: a server that
speaks gRPC with binary protobuf over HTTP/2 only, as the production NoriKV
server does, is judged over grpc/pb/h2, and the other transports are
skipped once each with the reason ("target speaks: grpc/pb/h2 only"). The
cluster view is read over a served transport, gRPC/h2 first. --transports
judges the transports it names: one the target does not serve fails.
--speaks and --features declare the protocols, codecs and HTTP versions
the target serves, like connect-go's conformance config: the others are
skipped as not declared, a declared one not served fails. A features file
is JSON, e.g. {"protocols": ["grpc"], "codecs": ["pb"], "versions": ["h2"]}
(connect-go's PROTOCOL_GRPC, CODEC_PROTO, HTTP_VERSION_2 spellings too).

A cell is pass, FAIL, skip (with the reason) or finding: the target breaks
the contract in a known way that production servers do (if_match on Delete
ignored, idempotency keys ignored or their reuse unchecked, leader hints
missing), named with what it costs you. The report also says how the target
answers a missing key (OK with no version, or NOT_FOUND) and what its
leader-hint holds (an address, or a node id); both forms are accepted.

Exit status: 0 every cell passed or was skipped, 1 a cell failed, the target
showed a known defect, or it was unreachable, 2 bad usage.
`

func runConformance(ctx context.Context, o IO, args []string) error {
	fs := newFlagSet(o, "conformance", "[flags]", conformanceExamples)
	target := fs.String("target", "", "nodes to judge, `host:port[,host:port...]` (default: start an embedded cluster)")
	token := fs.String("token", "", "bearer `token` sent with every request")
	shards := fs.Int("shards", 0, "the cluster's shard count (0: learn it from the cluster view)")
	caFile := fs.String("ca", "", "PEM `file` of the CA that signed the servers' certificates (implies TLS)")
	cases := fs.String("cases", "", "comma-separated `names` of cases to run (default all: "+strings.Join(conformance.CaseNames(), ",")+")")
	transports := fs.String("transports", "", "comma-separated `transports`, e.g. grpc/pb/h2,conn/json/h1 (default all 12)")
	allowTopology := fs.Bool("allow-topology-changes", false, "let the suite move shard leaders (always on for the embedded cluster)")
	parallel := fs.Int("parallel", 0, "cells run at once (default 8)")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of a table")
	junit := fs.String("junit", "", "also write the report as JUnit XML to `file`")
	speaks := fs.String("speaks", "", "declare what the target speaks, comma-separated `features`: protocols grpc,web,conn; codecs pb,json; HTTP h1,h2 (default: probe)")
	featuresFile := fs.String("features", "", "declare what the target speaks from a JSON `file` (see below)")
	grpcOnly := fs.Bool("grpc-only", false, "without --target: the embedded cluster serves gRPC, binary protobuf, HTTP/2 only, as the production server does")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *parallel < 0 {
		return usagef("--parallel must not be negative")
	}
	tg := conformance.Target{Token: *token, TotalShards: *shards, AllowTopologyChanges: *allowTopology}
	for a := range strings.SplitSeq(*target, ",") {
		if a = strings.TrimSpace(a); a != "" {
			tg.Addrs = append(tg.Addrs, a)
		}
	}
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca %s: no PEM certificate in it", *caFile)
		}
		tg.TLS = &tls.Config{RootCAs: pool}
	}
	opts := conformance.Options{Parallelism: *parallel}
	var known []string
	for _, t := range conformance.AllTransports() {
		known = append(known, t.String())
	}
	var err error
	if opts.Cases, err = splitKnown("--cases", *cases, conformance.CaseNames()); err != nil {
		return err
	}
	if opts.Transports, err = splitKnown("--transports", *transports, known); err != nil {
		return err
	}
	switch {
	case *speaks != "" && *featuresFile != "":
		return usagef("--speaks and --features both declare the features; give one")
	case *speaks != "":
		f, err := conformance.ParseFeatures(*speaks)
		if err != nil {
			return usagef("--speaks: %s", strings.TrimPrefix(err.Error(), "conformance: "))
		}
		opts.Speaks = &f
	case *featuresFile != "":
		f, err := conformance.ReadFeatures(*featuresFile)
		if err != nil {
			return err
		}
		opts.Speaks = &f
	}
	if *grpcOnly && len(tg.Addrs) > 0 {
		return usagef("--grpc-only is for the embedded cluster; a --target serves what it serves")
	}
	if len(tg.Addrs) == 0 {
		// No target: judge our own embedded server, the way the tests do.
		c, err := server.Start(server.Config{Nodes: 3, Shards: 64, Token: *token, GRPCOnly: *grpcOnly})
		if err != nil {
			return err
		}
		defer c.Close()
		tg.Addrs, tg.TotalShards, tg.AllowTopologyChanges = c.Addrs(), 64, true
		if !*asJSON {
			fmt.Fprintf(o.Stdout, "judging an embedded cluster at %s\n", strings.Join(tg.Addrs, ","))
		}
	}
	rep, err := conformance.Run(ctx, tg, opts)
	if sce, ok := errors.AsType[*conformance.ShardCountError](err); ok {
		return fmt.Errorf("shard count mismatch: the cluster has %d shards, --shards says %d (leave --shards out to learn it from the cluster)", sce.Cluster, sce.Configured)
	}
	if err != nil {
		return err
	}
	if *junit != "" {
		if err := writeJUnit(*junit, rep); err != nil {
			return err
		}
	}
	if *asJSON {
		if err := printJSON(o.Stdout, rep); err != nil {
			return err
		}
	} else if err := rep.WriteTable(o.Stdout); err != nil {
		return err
	}
	return verdict(rep)
}

// writeJUnit writes rep as JUnit XML to path.
func writeJUnit(path string, rep *conformance.Report) error {
	f, err := os.Create(path) //nolint:gosec // G304: the path is the user's own --junit flag
	if err != nil {
		return err
	}
	if err := rep.WriteJUnit(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// verdict is the command's error for a finished run: nil when every cell
// passed or was skipped; else what failed, or which known defects showed.
func verdict(rep *conformance.Report) error {
	n := rep.Counts()
	total := n.Pass + n.Fail + n.Finding + n.Skip
	if len(rep.Unserved) > 0 {
		speaks := strings.Join(rep.Speaks, ", ")
		if speaks == "" {
			speaks = "none of them"
		}
		return fmt.Errorf("the target does not serve %s, which the run was asked to judge (it speaks %s); %d of %d cells failed", strings.Join(rep.Unserved, ", "), speaks, n.Fail, total)
	}
	if rep.Failed() {
		return fmt.Errorf("%d of %d cells failed (%d passed, %d skipped, %d showed a known defect): the target violates the contract", n.Fail, total, n.Pass, n.Skip, n.Finding)
	}
	if ds := rep.Findings(); len(ds) > 0 {
		names := make([]string, len(ds))
		for i, d := range ds {
			names[i] = d.String()
		}
		return fmt.Errorf("the target has %d known defects (%s) in %d of %d cells: see FINDINGS", len(ds), strings.Join(names, ", "), n.Finding, total)
	}
	return nil
}

// splitKnown splits a comma-separated list and checks every name, so a typo
// is a usage error before any cluster is started or dialled.
func splitKnown(flagName, list string, known []string) ([]string, error) {
	if list == "" {
		return nil, nil
	}
	names := strings.Split(list, ",")
	for _, n := range names {
		if !slices.Contains(known, n) {
			return nil, usagef("%s: unknown name %q (known: %s)", flagName, n, strings.Join(known, ","))
		}
	}
	return names, nil
}
