package topology

import (
	"slices"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// snapshot is an immutable, pre-digested ClusterView: every lookup the
// router needs is an index or a map read, never a scan of the proto.
type snapshot struct {
	view     *v1.ClusterView
	nodes    map[string]string // node id → addr
	leaders  []*leader         // per shard; nil when the view names none
	replicas [][]string        // per shard: replica addresses
	addrs    []string          // every node address, in view order
}

// leader is one leader-cache entry. Entries are immutable, so a pointer
// swap publishes a new leader atomically.
type leader struct {
	id   string
	addr string
}

func buildSnapshot(v *v1.ClusterView, totalShards int) *snapshot {
	s := &snapshot{
		view:     v,
		nodes:    make(map[string]string, len(v.GetNodes())),
		leaders:  make([]*leader, totalShards),
		replicas: make([][]string, totalShards),
	}
	for _, n := range v.GetNodes() {
		s.nodes[n.GetId()] = n.GetAddr()
		s.addrs = append(s.addrs, n.GetAddr())
	}
	for _, sh := range v.GetShards() {
		id := int(sh.GetId())
		if id >= totalShards {
			continue // a cluster with more shards than configured; ignored
		}
		for _, r := range sh.GetReplicas() {
			addr, ok := s.nodes[r.GetNodeId()]
			if !ok {
				continue
			}
			s.replicas[id] = append(s.replicas[id], addr)
			if r.GetLeader() {
				s.leaders[id] = &leader{id: r.GetNodeId(), addr: addr}
			}
		}
	}
	return s
}

// Event describes how the cluster changed between two views.
type Event struct {
	PreviousEpoch uint64
	CurrentEpoch  uint64
	// Restarted reports a view of another incarnation of the cluster (it
	// restarted without its epoch, or the client now talks to another
	// cluster): epochs started over, so CurrentEpoch may be below
	// PreviousEpoch, and the diff is against the view left behind.
	Restarted     bool
	AddedNodes    []string // node ids
	RemovedNodes  []string // node ids
	LeaderChanges []LeaderChange
}

// clone returns ev with slices of its own.
func (ev Event) clone() Event {
	ev.AddedNodes = slices.Clone(ev.AddedNodes)
	ev.RemovedNodes = slices.Clone(ev.RemovedNodes)
	ev.LeaderChanges = slices.Clone(ev.LeaderChanges)
	return ev
}

// LeaderChange is one shard whose leader moved. An empty id means no
// leader was (or is) known.
type LeaderChange struct {
	Shard    uint32
	Previous string
	Current  string
}

// diff builds the event for the move from old (nil for the first view) to
// cur.
func diff(old, cur *snapshot) Event {
	ev := Event{CurrentEpoch: cur.view.GetEpoch()}
	var oldNodes map[string]string
	if old != nil {
		ev.PreviousEpoch = old.view.GetEpoch()
		oldNodes = old.nodes
	}
	for _, n := range cur.view.GetNodes() {
		if _, ok := oldNodes[n.GetId()]; !ok {
			ev.AddedNodes = append(ev.AddedNodes, n.GetId())
		}
	}
	if old != nil {
		for _, n := range old.view.GetNodes() {
			if _, ok := cur.nodes[n.GetId()]; !ok {
				ev.RemovedNodes = append(ev.RemovedNodes, n.GetId())
			}
		}
	}
	for shard, l := range cur.leaders {
		var prev string
		if old != nil && shard < len(old.leaders) && old.leaders[shard] != nil {
			prev = old.leaders[shard].id
		}
		var now string
		if l != nil {
			now = l.id
		}
		if prev != now {
			ev.LeaderChanges = append(ev.LeaderChanges, LeaderChange{Shard: uint32(shard), Previous: prev, Current: now})
		}
	}
	return ev
}
