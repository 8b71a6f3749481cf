package server

import (
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
		Epoch:  c.epoch,
		Nodes:  make([]*v1.ClusterNode, len(c.nodes)),
		Shards: make([]*v1.ShardInfo, len(c.shards)),
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
