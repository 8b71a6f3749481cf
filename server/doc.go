// Package server is an embedded NoriKV server for development and tests.
//
// [Start] runs a cluster of N nodes inside the current process, each an HTTP
// server on its own loopback port that speaks gRPC, gRPC-Web and Connect
// (binary and JSON, HTTP/1.1 and h2c) and serves the norikv.v1 Kv, Meta,
// Admin and Vector services exactly as the wire contract describes: keys are
// spread over shards with the contract's jump hash, each shard has replicas
// on several nodes and one leader, writes and leader reads sent to another
// node are answered UNAVAILABLE "NOT_LEADER" with a leader hint, versions,
// compare-and-swap, TTLs, idempotency keys and consistency levels behave as
// on a real cluster, and nodes can be stopped, restarted and have their
// leaderships moved to exercise clients' failover paths.
//
// It is not a replicated database: all nodes run inside one process, with
// no network between them to partition. By default the replicas of a shard
// share its state in memory, and "replicas" and "leaders" only decide which
// node may answer which request. With Config.ReplicationLag each replica
// has its own copy and the followers outside the write majority apply
// writes late, so stale_ok reads can be observed to lag (replica.go has
// the model). With Config.DataDir every acknowledged write is on disk
// first and survives a crash (storage.go); without it a crash loses
// everything. Production clusters run the NoriKV server.
//
// It is also the one server the SDK's own tests run against. Besides
// StopNode, RestartNode and TransferLeader, a cluster has test hooks: a
// per-call fault hook (Config.Faults, [Cluster.SetFaults]: delay a call,
// answer an error, lose the reply after applying, break the connection),
// switches for the contract deviations real servers are known to have
// (Config.Defects, [Cluster.SetDefects]), [Cluster.SetLeaderQuiet] (a
// leadership move no view announces), [Cluster.SetRole], and the counters
// [Cluster.Calls] and [Cluster.Watches]. "norikv serve" exposes none of
// them; its web console has its own controls (Config.Console and
// Config.ConsoleControls: stop and restart a node, slow one down with a
// [DelayCalls] hook, run a load generator), off with --no-faults.
//
// Most tests should use package norikvtest, which wraps Start for testing.TB.
package server
