// Package norikvtest starts an in-process NoriKV cluster for tests in one
// line:
//
//	c := norikvtest.Start(t, norikvtest.WithNodes(3), norikvtest.WithShards(64))
//
// The cluster listens on ephemeral loopback ports, speaks gRPC, gRPC-Web and
// Connect like a real one, and is closed by t.Cleanup. Its StopNode,
// RestartNode and TransferLeader hooks exercise a client's failover paths;
// WithFaults injects per-call faults and WithDefects known server defects.
// See package server for what the embedded cluster is (and is not).
package norikvtest

import (
	"crypto/tls"
	"log/slog"
	"testing"
	"time"

	"github.com/norikv/norikv-go/server"
)

// Cluster is a running test cluster. It embeds *server.Cluster, so Addrs,
// NodeIDs, Addr, Leader, ShardOf, View, Stats, StopNode, RestartNode and
// TransferLeader are all available, and so are the test hooks: SetFaults,
// SetDefects, SetLeaderQuiet, SetRole, Calls, Watches and Epoch.
type Cluster struct {
	*server.Cluster
	tls bool
	cfg server.Config
}

// Endpoints returns every node's base URL ("http://host:port", or https
// with WithTLS), in node order, ready for a client's seed list.
func (c *Cluster) Endpoints() []string {
	scheme := "http://"
	if c.tls {
		scheme = "https://"
	}
	addrs := c.Addrs()
	for i, a := range addrs {
		addrs[i] = scheme + a
	}
	return addrs
}

// Option configures Start.
type Option func(*server.Config)

// WithNodes sets the number of nodes (default 3).
func WithNodes(n int) Option { return func(c *server.Config) { c.Nodes = n } }

// WithShards sets the number of shards (default 1024).
func WithShards(n int) Option { return func(c *server.Config) { c.Shards = n } }

// WithReplication sets the replicas per shard (default min(3, nodes)).
func WithReplication(n int) Option {
	return func(c *server.Config) { c.ReplicationFactor = n }
}

// WithLeader makes node id ("n1") lead every shard it holds a replica of
// at start (with the default replication, every shard), so a test knows
// where each call lands until it moves a leadership.
func WithLeader(id string) Option { return func(c *server.Config) { c.Leader = id } }

// WithToken requires "authorization: Bearer <token>" on every request.
func WithToken(token string) Option { return func(c *server.Config) { c.Token = token } }

// WithTLS serves TLS with cfg, which must hold a certificate.
func WithTLS(cfg *tls.Config) Option { return func(c *server.Config) { c.TLSConfig = cfg } }

// WithIdempotencyTTL sets how long idempotency keys are remembered.
func WithIdempotencyTTL(d time.Duration) Option {
	return func(c *server.Config) { c.IdempotencyTTL = d }
}

// WithReplicationLag gives every replica its own copy of each shard, with
// the followers outside the write majority applying writes d after the
// leader: stale_ok reads they serve may return older versions, lease and
// linearizable reads never do (see server.Config.ReplicationLag).
func WithReplicationLag(d time.Duration) Option {
	return func(c *server.Config) { c.ReplicationLag = d }
}

// WithDataDir keeps the cluster's state in dir (see
// server.Config.DataDir): a cluster started again on the same dir, with the
// same shape, finds every acknowledged write.
func WithDataDir(dir string) Option { return func(c *server.Config) { c.DataDir = dir } }

// WithLogger sends the cluster's lifecycle log to l.
func WithLogger(l *slog.Logger) Option { return func(c *server.Config) { c.Logger = l } }

// WithFaults installs a fault hook on every node (see server.FaultHook);
// change it later with Cluster.SetFaults.
func WithFaults(hook server.FaultHook) Option {
	return func(c *server.Config) { c.Faults = hook }
}

// WithDefects makes the cluster deviate from the contract as d says, to
// test how a client or a suite copes (see server.Defects); change them
// later with Cluster.SetDefects.
func WithDefects(d server.Defects) Option {
	return func(c *server.Config) { c.Defects = d }
}

// WithConfig edits the server configuration directly, for settings without
// an option of their own.
func WithConfig(f func(*server.Config)) Option { return Option(f) }

// Start starts a cluster on ephemeral loopback ports and registers its
// Close with tb.Cleanup. It fails the test if the cluster cannot start.
func Start(tb testing.TB, opts ...Option) *Cluster {
	tb.Helper()
	var cfg server.Config
	for _, o := range opts {
		o(&cfg)
	}
	cfg.BasePort = 0 // parallel tests must not fight over ports
	sc, err := server.Start(cfg)
	if err != nil {
		tb.Fatalf("norikvtest: %v", err)
	}
	tb.Cleanup(func() { sc.Close() })
	return &Cluster{Cluster: sc, tls: cfg.TLSConfig != nil, cfg: cfg}
}

// Restart closes c and starts a cluster with the same options on the same
// addresses, as when "norikv serve" is stopped and started again: a client
// connected to c stays connected and finds the new cluster there. The new
// cluster is a new incarnation (ClusterView.incarnation) at a low epoch;
// in memory it starts empty, with WithDataDir it finds c's data and
// continues its epoch. Use the returned Cluster from then on.
func (c *Cluster) Restart(tb testing.TB) *Cluster {
	tb.Helper()
	cfg := c.cfg
	cfg.Addrs = c.Addrs()
	c.Close()
	sc, err := server.Start(cfg)
	if err != nil {
		tb.Fatalf("norikvtest: restart: %v", err)
	}
	tb.Cleanup(func() { sc.Close() })
	return &Cluster{Cluster: sc, tls: c.tls, cfg: c.cfg}
}

// LeadAll moves the leadership of every shard to node id, one
// TransferLeader per shard (so one new view per shard that moves).
func (c *Cluster) LeadAll(id string) error {
	for s := range c.Shards() {
		if err := c.TransferLeader(uint32(s), id); err != nil {
			return err
		}
	}
	return nil
}
