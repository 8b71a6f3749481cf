package norikv

import (
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/topology"
)

// ClusterView is the cluster as the client last saw it: nodes, and for
// each shard its replicas and leader. Epoch only grows within one
// Incarnation.
type ClusterView struct {
	Epoch  uint64
	Nodes  []ClusterNode
	Shards []ShardInfo
	// Incarnation names the run of the cluster the view belongs to: it
	// changes when the cluster restarts and its epochs start over (see
	// TopologyEvent.Restarted). Compare it only for equality. Empty from
	// servers that do not send one (the Rust server).
	Incarnation string
}

// ClusterNode is one server.
type ClusterNode struct {
	ID   string
	Addr string // host:port
	// Role is the node's state as the cluster publishes it. NoriKV's
	// servers (package server, norikv serve) publish two values:
	//
	//	"voter"  running: a Raft voting member of the shards it replicates
	//	"down"   stopped: it answers nothing until it restarts, when it
	//	         turns "voter" again in a newer view
	//
	// The wire contract leaves the field free-form, so other servers may
	// publish other roles: compare with these values rather than treat
	// the set as closed.
	Role string
}

// ShardInfo is one shard's replica set.
type ShardInfo struct {
	ID       uint32
	Replicas []ShardReplica
}

// ShardReplica is one replica of a shard.
type ShardReplica struct {
	NodeID string
	Leader bool
}

// TopologyEvent describes a change of cluster view, from PreviousEpoch (0
// for the first view the client learns) to CurrentEpoch. Its slices
// belong to the subscriber it was delivered to, which may sort, modify
// or keep them.
//
// Within one incarnation of the cluster the epoch only grows, and an
// older view is ignored. When the cluster restarts without its epochs (an
// in-memory "norikv serve" stopped and started, or a server that lost its
// state), the client adopts the new cluster's view within about a second
// of reconnecting, whatever its epoch, and the event has Restarted set.
type TopologyEvent struct {
	PreviousEpoch uint64
	CurrentEpoch  uint64
	// Restarted reports a view of another incarnation of the cluster: it
	// restarted (or the client now talks to another cluster), epochs
	// started over, so CurrentEpoch may be below PreviousEpoch. The nodes
	// and leaders are diffed against the view left behind. From a server
	// that sends no incarnation, a lower epoch is taken for a restart
	// once the watch has held it for a few seconds with nothing newer.
	Restarted     bool
	AddedNodes    []string // node ids
	RemovedNodes  []string // node ids
	LeaderChanges []LeaderChange
}

// LeaderChange is a shard whose leader moved; "" means none known.
type LeaderChange struct {
	Shard    uint32
	Previous string // node id
	Current  string // node id
}

// ClusterView returns a copy of the latest cluster view, or nil until
// the client has one (Connect fetches it; the background watch keeps it
// current).
func (c *Client) ClusterView() *ClusterView {
	v := c.topo.View()
	if v == nil {
		return nil
	}
	return viewFrom(v)
}

func viewFrom(v *v1.ClusterView) *ClusterView {
	out := &ClusterView{Epoch: v.GetEpoch(), Incarnation: v.GetIncarnation()}
	for _, n := range v.GetNodes() {
		out.Nodes = append(out.Nodes, ClusterNode{ID: n.GetId(), Addr: n.GetAddr(), Role: n.GetRole()})
	}
	for _, s := range v.GetShards() {
		si := ShardInfo{ID: s.GetId()}
		for _, r := range s.GetReplicas() {
			si.Replicas = append(si.Replicas, ShardReplica{NodeID: r.GetNodeId(), Leader: r.GetLeader()})
		}
		out.Shards = append(out.Shards, si)
	}
	return out
}

// OnTopologyChange calls fn for every later change of cluster view (epoch
// change), with the nodes added and removed and the leaders that moved.
// "Later" is exact: the view ClusterView returns when fn is registered (the
// one Connect waited for, say) is never delivered to it as a change.
//
// Each subscriber has its own goroutine and queue, so a slow fn delays
// only its own events, never the watch, calls, or other subscribers.
// Events for one subscriber arrive in order, one at a time. A callback
// that falls more than 1024 events behind loses the oldest ones; the
// latest view is always available from ClusterView.
//
// fn may call unsubscribe, Close and any other Client method. It should
// not block for long: hand slow work to another goroutine. A blocked fn
// holds up only its own events; it does not hold up Close, which returns
// without waiting for callbacks.
//
// unsubscribe stops delivery: no callback starts after it returns (one
// already running finishes). It is idempotent. Close stops every
// subscriber the same way.
func (c *Client) OnTopologyChange(fn func(TopologyEvent)) (unsubscribe func()) {
	// Subscribe before starting the watch, so a subscriber registered
	// before the first view always sees it.
	defer c.start()
	return c.topo.Subscribe(func(e topology.Event) { fn(eventFrom(e)) })
}

// eventFrom is the public form of the topology manager's event. The types
// stay separate so that go doc shows their fields here; they convert
// field for field, and the manager already gave each subscriber slices of
// its own.
func eventFrom(e topology.Event) TopologyEvent {
	ev := TopologyEvent{
		PreviousEpoch: e.PreviousEpoch,
		CurrentEpoch:  e.CurrentEpoch,
		Restarted:     e.Restarted,
		AddedNodes:    e.AddedNodes,
		RemovedNodes:  e.RemovedNodes,
	}
	if len(e.LeaderChanges) > 0 {
		ev.LeaderChanges = make([]LeaderChange, len(e.LeaderChanges))
		for i, lc := range e.LeaderChanges {
			ev.LeaderChanges[i] = LeaderChange(lc)
		}
	}
	return ev
}
