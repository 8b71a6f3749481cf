// Package conformance checks a NoriKV endpoint against the norikv.v1 wire
// contract (../shared/CONTRACT.md and proto/norikv/v1) using nothing but the
// generated Connect clients over HTTP. It never looks inside a server, so it
// can judge the embedded server, the upstream Rust server or any other
// implementation the same way.
//
// Every case (versions, CAS, deletes, TTL, idempotency, consistency
// spellings, NOT_LEADER, limits, vectors, cluster watch) runs once per
// transport of the matrix protocol {gRPC, gRPC-Web, Connect} × codec
// {binary protobuf, JSON} × HTTP {1.1, 2}, because a server can honour a rule
// on one transport and break it on another (metadata carried in trailers is
// the classic example). Combinations a protocol cannot carry (gRPC over
// HTTP/1.1) and features a target lacks (an UNIMPLEMENTED Vector service)
// are reported as skipped with the reason, never as passed.
//
// Before judging, the suite finds out which transports the target speaks
// (speaks.go): one cheap call per transport, and the protocol-level
// refusals of servers that do not speak it (HTTP/2 frames in reply to
// HTTP/1.1, a reply in another protocol, 415, JSON a binary-only server
// cannot parse) mark it not served, so its cells are skipped with that
// reason instead of failing. The production server speaks gRPC with
// binary protobuf over HTTP/2 only and is judged over that alone
// (Report.Speaks). The cluster view is read over a served transport,
// gRPC/h2 first. Options.Speaks declares the features instead, and
// Options.Transports forces transports, judged even when not served.
// Report.WriteTable, MarshalJSON and WriteJUnit print the report.
//
// The suite judges real clusters, not only this project's server. Where
// servers in use differ and clients cope with both, it accepts both and
// says in the report which one the target uses: a missing key on Get is OK
// with no version (the contract's form) or NOT_FOUND (Report.MissingKey);
// leader-hint holds the leader's address (the contract's) or its node id
// (Report.LeaderHint). Where production servers are known to break the
// contract (CONTRACT.md "Known upstream defects"), a cell that meets the
// defect is StatusFinding with the Defect named and what it costs a user,
// rather than an unexplained StatusFail; see KnownDefects.
//
// Typical use, from a test or a command:
//
//	rep, err := conformance.Run(ctx, conformance.Target{Addrs: []string{"127.0.0.1:7447"}}, conformance.Options{})
//	if err != nil { ... }            // the target could not be reached at all
//	rep.WriteTable(os.Stdout)
//	if rep.Failed() || len(rep.Findings()) > 0 { os.Exit(1) }
//
// The suite writes only keys and namespaces under a random per-run prefix and
// removes what it created, so it may be pointed at a shared cluster. It
// changes shard leadership only when Target.AllowTopologyChanges is set.
package conformance
