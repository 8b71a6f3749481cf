package server

import (
	"fmt"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// StopNode stops node id as if it crashed: the leadership of every shard it
// led moves to a live replica (the shard's term and the epoch grow; a shard
// with no live replica is left without a leader), its listener and open
// connections are closed so its port refuses connections, and its
// WatchCluster streams end. Stopping a stopped node does nothing.
func (c *Cluster) StopNode(id string) error {
	n, err := c.lockNode(id)
	if err != nil {
		return err
	}
	defer n.life.Unlock()
	c.topoMu.Lock()
	if !n.up {
		c.topoMu.Unlock()
		return nil
	}
	n.up = false
	for _, s := range c.shards {
		if s.leader != n.idx {
			continue
		}
		next := -1
		// Walk the replicas after the old leader, so a shard's
		// leadership moves to the same node each time.
		at := indexOf(s.replicas, n.idx)
		for k := 1; k <= len(s.replicas); k++ {
			r := s.replicas[(at+k)%len(s.replicas)]
			if c.nodes[r].up {
				next = r
				break
			}
		}
		c.setLeaderLocked(s, next)
	}
	c.publishLocked()
	c.topoMu.Unlock()
	c.cfg.Logger.Info("norikv node stopped", "node", id)
	// Outside topoMu: in-flight admin calls on this node may need it.
	n.stop()
	return nil
}

// RestartNode brings a stopped node back on the same address. Shards left
// without a leader while it was down and that it holds a replica of get it
// as their leader. Restarting a running node does nothing.
func (c *Cluster) RestartNode(id string) error {
	n, err := c.lockNode(id)
	if err != nil {
		return err
	}
	defer n.life.Unlock()
	if n.inc.Load() != nil {
		return nil
	}
	if err := n.start(); err != nil {
		return err
	}
	c.topoMu.Lock()
	n.up = true
	for _, s := range c.shards {
		if s.leader < 0 && s.hasReplica(n.idx) {
			c.setLeaderLocked(s, n.idx)
		}
	}
	c.publishLocked()
	c.topoMu.Unlock()
	c.cfg.Logger.Info("norikv node restarted", "node", id, "addr", n.addr)
	return nil
}

// TransferLeader moves the leadership of shard to node id, which must hold
// a replica of it and be running. The shard's term and the epoch grow.
// Transferring to the current leader does nothing.
func (c *Cluster) TransferLeader(shard uint32, id string) error {
	_, err := c.transfer(shard, id, true)
	return err
}

// transfer is the one implementation of a leadership move, behind
// TransferLeader, SetLeaderQuiet and Admin.TransferShard; it returns the
// shard's new info. Its errors are connect errors so Admin.TransferShard
// can return them as they are.
func (c *Cluster) transfer(shard uint32, id string, publish bool) (*v1.ShardInfo, error) {
	if int(shard) >= len(c.shards) {
		return nil, invalidArgument(fmt.Sprintf("shard %d does not exist (the cluster has %d shards)", shard, len(c.shards)))
	}
	n := c.byID[id]
	if n == nil {
		return nil, invalidArgument(fmt.Sprintf("node %q does not exist", id))
	}
	s := c.shards[shard]
	c.topoMu.Lock()
	defer c.topoMu.Unlock()
	if !s.hasReplica(n.idx) {
		return nil, invalidArgument(fmt.Sprintf("node %s holds no replica of shard %d", id, shard))
	}
	if !n.up {
		return nil, failedPrecondition(fmt.Sprintf("node %s is down; it cannot lead shard %d", id, shard))
	}
	if s.leader != n.idx {
		c.setLeaderLocked(s, n.idx)
		if publish {
			c.publishLocked()
		}
	}
	return c.shardInfoLocked(s), nil
}

// setLeaderLocked makes node (or nobody, -1) lead s in a new term. Caller
// holds topoMu.
func (c *Cluster) setLeaderLocked(s *shard, node int) {
	s.mu.Lock()
	s.leader = node
	s.term++
	s.assignCopies()
	s.mu.Unlock()
}

func (c *Cluster) node(id string) (*node, error) {
	if n := c.byID[id]; n != nil {
		return n, nil
	}
	return nil, fmt.Errorf("server: no node %q", id)
}

// lockNode returns node id with its life lock held, so a stop or restart
// does not race another or the cluster's Close; the caller unlocks.
func (c *Cluster) lockNode(id string) (*node, error) {
	n, err := c.node(id)
	if err != nil {
		return nil, err
	}
	n.life.Lock()
	if c.isClosed() {
		n.life.Unlock()
		return nil, errClosed
	}
	return n, nil
}

func (c *Cluster) isClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func indexOf(xs []int, x int) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return 0
}

// SetLeaderQuiet moves the leadership of shard to node id, as
// TransferLeader does, but publishes no view: clients learn of the move
// only from NOT_LEADER replies, as when a view update is lost. For tests.
func (c *Cluster) SetLeaderQuiet(shard uint32, id string) error {
	_, err := c.transfer(shard, id, false)
	return err
}

// SetRole sets the role node id has in the published views ("voter",
// "learner", "down", ...; "" restores the role its state gives it, voter
// or down) and publishes a view. It changes nothing else: a node marked
// down still serves. For tests.
func (c *Cluster) SetRole(id, role string) error {
	n, err := c.node(id)
	if err != nil {
		return err
	}
	c.topoMu.Lock()
	defer c.topoMu.Unlock()
	n.role = role
	c.publishLocked()
	return nil
}
