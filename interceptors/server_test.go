package interceptors_test

import (
	"testing"

	"github.com/norikv/norikv-go/norikvtest"
)

// startServer starts the embedded server for a unit test: nodes nodes,
// shards shards, and node n1 leading every shard, so a test knows where
// each call lands until it moves a leadership itself.
func startServer(t *testing.T, nodes, shards int) *norikvtest.Cluster {
	t.Helper()
	fc := norikvtest.Start(t, norikvtest.WithNodes(nodes), norikvtest.WithShards(shards))
	mustDo(t, fc.LeadAll("n1"))
	return fc
}

// mustDo fails the test on a test hook's error.
func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
