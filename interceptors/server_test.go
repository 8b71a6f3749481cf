package interceptors_test

import (
	"testing"

	"github.com/norikv/norikv-go/norikvtest"
)

// startServer starts the embedded server for a unit test, with node n1
// leading every shard.
func startServer(t *testing.T, nodes, shards int) *norikvtest.Cluster {
	t.Helper()
	return norikvtest.Start(t, norikvtest.WithNodes(nodes), norikvtest.WithShards(shards), norikvtest.WithLeader("n1"))
}
