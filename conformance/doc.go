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
// Typical use, from a test or a command:
//
//	rep, err := conformance.Run(ctx, conformance.Target{Addrs: []string{"127.0.0.1:7447"}}, conformance.Options{})
//	if err != nil { ... }            // the target could not be reached at all
//	rep.WriteTable(os.Stdout)
//	if rep.Failed() { os.Exit(1) }
//
// The suite writes only keys and namespaces under a random per-run prefix and
// removes what it created, so it may be pointed at a shared cluster. It
// changes shard leadership only when Target.AllowTopologyChanges is set.
package conformance
