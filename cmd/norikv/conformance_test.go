package main

import (
	"testing"
)

// TestConformanceShardMismatch: told a shard count the cluster does not
// have, the command says so instead of blaming the server for versions.
func TestConformanceShardMismatch(t *testing.T) {
	c, _ := newCLI(t) // 64 shards
	c.fails(exitError, "shard count mismatch: the cluster has 64 shards, --shards says 16", "conformance", "--shards", "16", "--cases", "versions", "--transports", "conn/pb/h1")
}
