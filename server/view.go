package server

import (
	"crypto/rand"
	"encoding/hex"
	"sync/atomic"

	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

// viewBroadcast publishes cluster views to any number of watchers without
// ever blocking the publisher: the latest view and a channel closed on the
// next change live behind one atomic pointer. A slow watcher just finds a
// newer view when it gets round to looking (latest value wins).
type viewBroadcast struct {
	cur atomic.Pointer[viewState]
}

type viewState struct {
	view    *v1.ClusterView // never mutated once published
	changed chan struct{}   // closed when a newer view is published
}

func (b *viewBroadcast) publish(v *v1.ClusterView) {
	next := &viewState{view: v, changed: make(chan struct{})}
	if prev := b.cur.Swap(next); prev != nil {
		close(prev.changed)
	}
}

func (b *viewBroadcast) load() *viewState { return b.cur.Load() }

// publishLocked bumps the epoch and publishes the current view. Caller
// holds topoMu, which also makes the placement safe to read.
func (c *Cluster) publishLocked() {
	c.epoch++
	if c.store != nil {
		c.store.saveEpoch(c)
	}
	v := &v1.ClusterView{
		Epoch:       c.epoch,
		Nodes:       make([]*v1.ClusterNode, len(c.nodes)),
		Shards:      make([]*v1.ShardInfo, len(c.shards)),
		Incarnation: c.incarnation,
	}
	if !c.defects().NoSessions {
		v.Capabilities = []string{wire.SessionCapability}
	}
	for i, n := range c.nodes {
		role := "voter"
		switch {
		case n.role != "":
			role = n.role
		case !n.up:
			role = "down"
		}
		v.Nodes[i] = &v1.ClusterNode{Id: n.id, Addr: n.addr, Role: role}
	}
	for i, s := range c.shards {
		v.Shards[i] = c.shardInfoLocked(s)
	}
	c.views.publish(v)
}

// shardInfoLocked describes s. Caller holds topoMu or s.mu.
func (c *Cluster) shardInfoLocked(s *shard) *v1.ShardInfo {
	info := &v1.ShardInfo{Id: s.id, Replicas: make([]*v1.ShardReplica, len(s.replicas))}
	for j, r := range s.replicas {
		info.Replicas[j] = &v1.ShardReplica{NodeId: c.nodes[r].id, Leader: r == s.leader}
	}
	return info
}

// View returns the current cluster view (a copy the caller may keep).
func (c *Cluster) View() *v1.ClusterView {
	return proto.CloneOf(c.views.load().view)
}

// newIncarnation names one run of the cluster: its cluster id (random for
// an in-memory cluster, kept in the data dir of a durable one), a dot, and
// a random run id. Every start is a new incarnation, durable or not: all
// nodes restart together in this one process, so no node of the previous
// run can still be serving, and a client then adopts the new run's views
// even if the epoch stored in the data dir was lost (a crash with
// Sync "none", a failed saveEpoch). A durable cluster also continues its
// epoch, for clients that predate the field and compare epochs alone. The
// shared cluster id tells a person reading two incarnations that they are
// runs of the same durable cluster; clients only compare for equality.
func newIncarnation(clusterID string) string { return clusterID + "." + randomHex(4) }

// randomHex is n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
