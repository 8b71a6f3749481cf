package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/norikv/norikv-go/internal/routing"
)

// Cluster is a running in-process NoriKV cluster: its nodes, the shard
// table and every shard's state. Create one with [Start]; all methods are
// safe for concurrent use.
type Cluster struct {
	cfg    Config
	shards []*shard
	nodes  []*node
	byID   map[string]*node
	clock  func() int64 // monotonic nanoseconds; replaced in tests

	// idem remembers idempotency keys for every shard, in one budget.
	idem *idemCache
	// sessions remembers session writes' answers (session.go).
	sessions *sessionTable

	// store keeps the shards on disk in durable mode (Config.DataDir);
	// nil otherwise. storeErr is set once a write failed to persist.
	store    *store
	storeErr atomic.Pointer[error]

	// topoMu serialises changes to placement (leaders, terms, node roles)
	// and the epoch. Request handlers never take it.
	topoMu sync.Mutex
	epoch  uint64
	views  viewBroadcast
	// incarnation names this run's sequence of epochs in every view
	// (ClusterView.incarnation; see newIncarnation). Set before the
	// first view, never changed.
	incarnation string

	// Test hooks (faults.go).
	defect  atomic.Pointer[Defects]
	faults  atomic.Pointer[FaultHook]
	watches atomic.Int64

	// console is the web console's state (console.go); nil unless
	// Config.Console.
	console *console

	done      chan struct{} // closed by Close
	closeOnce sync.Once
	bg        sync.WaitGroup // the reaper
}

// Start builds a cluster as cfg describes and starts every node. Close it
// when done.
func Start(cfg Config) (*Cluster, error) {
	start := time.Now()
	return start0(cfg, func() int64 { return int64(time.Since(start)) })
}

// start0 is Start with an injectable clock, so tests can expire keys
// without sleeping.
func start0(cfg Config, clock func() int64) (*Cluster, error) {
	cfg = cfg.withDefaults()
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("server: TLSCertFile and TLSKeyFile go together")
	}
	if cfg.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("server: loading TLS key pair: %w", err)
		}
		tc := &tls.Config{MinVersion: tls.VersionTLS12}
		if cfg.TLSConfig != nil {
			tc = cfg.TLSConfig.Clone()
		}
		tc.Certificates = append(tc.Certificates, cert)
		cfg.TLSConfig = tc
	}
	switch {
	case cfg.Nodes > 1000:
		return nil, fmt.Errorf("server: %d nodes is more than the 1000 supported", cfg.Nodes)
	case cfg.Shards > 1<<20:
		return nil, fmt.Errorf("server: %d shards is more than the %d supported", cfg.Shards, 1<<20)
	case cfg.ReplicationFactor > cfg.Nodes:
		return nil, fmt.Errorf("server: replication factor %d is more than the %d nodes", cfg.ReplicationFactor, cfg.Nodes)
	case cfg.BasePort < 0 || cfg.BasePort+cfg.Nodes-1 > 65535:
		return nil, fmt.Errorf("server: ports %d..%d are out of range", cfg.BasePort, cfg.BasePort+cfg.Nodes-1)
	case cfg.Addrs != nil && len(cfg.Addrs) != cfg.Nodes:
		return nil, fmt.Errorf("server: %d Addrs for %d nodes", len(cfg.Addrs), cfg.Nodes)
	case cfg.Leader != "" && !validNodeID(cfg.Leader, cfg.Nodes):
		return nil, fmt.Errorf("server: Leader %q is not a node id (n1..n%d)", cfg.Leader, cfg.Nodes)
	case cfg.GRPCOnly && (cfg.UI != nil || len(cfg.CORSOrigins) > 0):
		return nil, errors.New("server: GRPCOnly with UI or CORSOrigins: browsers speak Connect and gRPC-Web, which a gRPC-only node refuses")
	case cfg.TLSConfig != nil && len(cfg.TLSConfig.Certificates) == 0 && cfg.TLSConfig.GetCertificate == nil:
		return nil, errors.New("server: TLSConfig has no certificate")
	}
	c := &Cluster{
		cfg:      cfg,
		clock:    clock,
		idem:     newIdemCache(cfg.IdempotencyMaxEntries, cfg.IdempotencyTTL, cfg.IdempotencyRetryWindow),
		sessions: newSessionTable(cfg),
		byID:     make(map[string]*node, cfg.Nodes),
		done:     make(chan struct{}),
	}
	if d := cfg.Defects; d != (Defects{}) {
		c.defect.Store(&d) // not SetDefects: no view to publish yet
	}
	c.SetFaults(cfg.Faults)
	c.place()
	clusterID := randomHex(8)
	if cfg.Console {
		c.console = newConsole(c)
	}
	if cfg.DataDir != "" {
		if err := c.openStore(&clusterID); err != nil {
			return nil, err
		}
	}
	c.incarnation = newIncarnation(clusterID)
	for i := range cfg.Nodes {
		n := newNode(c, i)
		switch {
		case cfg.Addrs != nil:
			n.addr = cfg.Addrs[i]
		case cfg.BasePort != 0:
			n.addr = net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.BasePort+i))
		}
		c.nodes = append(c.nodes, n)
		c.byID[n.id] = n
	}
	for _, n := range c.nodes {
		if err := n.start(); err != nil {
			c.Close()
			return nil, err
		}
		n.up = true
		cfg.Logger.Info("norikv node started", "node", n.id, "addr", n.addr)
	}
	c.topoMu.Lock()
	c.publishLocked()
	c.topoMu.Unlock()
	if c.console != nil {
		c.bg.Add(1)
		go c.console.record()
	}
	c.bg.Add(1)
	go c.reaper()
	return c, nil
}

// place spreads shards over nodes: shard s has replicas on nodes s, s+1,
// ... (mod N) and is led by node s mod N, so every node leads the same
// number of shards, give or take one; or by Config.Leader where it holds
// a replica.
func (c *Cluster) place() {
	n, rf := c.cfg.Nodes, c.cfg.ReplicationFactor
	lead := -1
	if c.cfg.Leader != "" {
		lead, _ = strconv.Atoi(c.cfg.Leader[1:])
		lead--
	}
	c.shards = make([]*shard, c.cfg.Shards)
	for i := range c.shards {
		s := newShard(uint32(i))
		s.replicas = make([]int, rf)
		for j := range rf {
			s.replicas[j] = (i + j) % n
		}
		s.leader = i % n
		if lead >= 0 && s.hasReplica(lead) {
			s.leader = lead
		}
		if c.cfg.ReplicationLag > 0 {
			s.journaled = true
			s.rep = &replication{lag: int64(c.cfg.ReplicationLag), copies: make(map[int]*laggedCopy)}
			s.assignCopies()
		}
		c.shards[i] = s
	}
}

// validNodeID reports whether id names one of n nodes ("n1".."nN").
func validNodeID(id string, n int) bool {
	i, err := strconv.Atoi(strings.TrimPrefix(id, "n"))
	return strings.HasPrefix(id, "n") && err == nil && i >= 1 && i <= n && id == "n"+strconv.Itoa(i)
}

// shardFor returns the shard that owns key (or a namespace's bytes).
func (c *Cluster) shardFor(key []byte) *shard {
	return c.shards[routing.Shard(key, len(c.shards))]
}

func (c *Cluster) shardForString(ns string) *shard {
	return c.shards[routing.ShardString(ns, len(c.shards))]
}

// reaper reclaims expired keys and idempotency entries until Close.
func (c *Cluster) reaper() {
	defer c.bg.Done()
	t := time.NewTicker(c.cfg.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			c.reapOnce()
		}
	}
}

func (c *Cluster) reapOnce() {
	now := c.clock()
	c.idem.prune(now)
	gone := c.sessions.prune(now)
	if c.store != nil {
		if err := c.store.prune(c.idem.ttl, now); err != nil {
			c.cfg.Logger.Warn("norikv: pruning stored idempotency keys", "err", err)
		}
		if err := c.store.dropSessions(gone); err != nil {
			c.cfg.Logger.Warn("norikv: deleting forgotten client sessions", "err", err)
		}
	}
	for _, s := range c.shards {
		if d := s.nextDue.Load(); d != 0 && d <= now {
			if err := s.reap(now, c.store); err != nil && !c.isClosed() {
				// Harmless: the next start drops expired keys.
				c.cfg.Logger.Warn("norikv: deleting expired keys from the data dir", "err", err)
			}
		}
	}
}

// Addrs returns every node's address ("host:port"), in node order n1..nN,
// including stopped nodes (which keep their address).
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.addr
	}
	return out
}

// NodeIDs returns the node ids, "n1".."nN".
func (c *Cluster) NodeIDs() []string {
	out := make([]string, len(c.nodes))
	for i, n := range c.nodes {
		out[i] = n.id
	}
	return out
}

// Addr returns the address of node id, or "" if there is no such node.
func (c *Cluster) Addr(id string) string {
	if n := c.byID[id]; n != nil {
		return n.addr
	}
	return ""
}

// Shards returns the number of shards.
func (c *Cluster) Shards() int { return len(c.shards) }

// ShardOf returns the shard that owns key, by the contract's hash.
func (c *Cluster) ShardOf(key []byte) uint32 { return c.shardFor(key).id }

// Leader returns the id of the node leading shard, or "" if it has no
// leader (all its replicas are stopped) or does not exist.
func (c *Cluster) Leader(shard uint32) string {
	if int(shard) >= len(c.shards) {
		return ""
	}
	s := c.shards[shard]
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.leader < 0 {
		return ""
	}
	return c.nodes[s.leader].id
}

// Shutdown stops the cluster gracefully: nodes stop accepting connections,
// WatchCluster streams end, and requests in flight are allowed to finish
// until ctx is done (then connections are closed as by Close). Afterwards
// the cluster is closed; Close and Shutdown may both be called.
func (c *Cluster) Shutdown(ctx context.Context) error {
	var err error
	c.closeOnce.Do(func() {
		close(c.done)
		for _, n := range c.nodes {
			n.life.Lock()
			if e := n.shutdown(ctx); e != nil && err == nil {
				err = e
			}
			n.life.Unlock()
		}
		c.bg.Wait()
		c.closeStore()
	})
	return err
}

// Close stops every node and background goroutine and ends all
// WatchCluster streams. It is safe to call more than once.
func (c *Cluster) Close() error {
	c.closeOnce.Do(func() {
		close(c.done)
		for _, n := range c.nodes {
			n.life.Lock()
			n.stop()
			n.life.Unlock()
		}
		c.bg.Wait()
		c.closeStore()
	})
	return nil
}
