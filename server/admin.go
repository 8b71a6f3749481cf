package server

import (
	"context"
	"fmt"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// adminService serves norikv.v1.Admin. Any node may serve it.
type adminService struct {
	c *Cluster
}

// TransferShard moves shard id's leadership to the replica the request
// marks leader = true.
func (h *adminService) TransferShard(_ context.Context, req *v1.ShardInfo) (*v1.ShardInfo, error) {
	target := ""
	for _, r := range req.Replicas {
		if !r.Leader {
			continue
		}
		if target != "" && target != r.NodeId {
			return nil, invalidArgument("replicas: more than one replica is marked leader = true")
		}
		target = r.NodeId
	}
	if target == "" {
		return nil, invalidArgument("replicas: mark the node that should lead the shard with leader = true")
	}
	return h.c.transfer(req.Id, target, true)
}

// SnapshotShard returns shard id's info. The embedded server keeps all state
// in memory and persists nothing, so there is nothing to snapshot.
func (h *adminService) SnapshotShard(_ context.Context, req *v1.ShardInfo) (*v1.ShardInfo, error) {
	if int(req.Id) >= len(h.c.shards) {
		return nil, invalidArgument(fmt.Sprintf("id: shard %d does not exist (the cluster has %d shards)", req.Id, len(h.c.shards)))
	}
	s := h.c.shards[req.Id]
	s.mu.RLock()
	defer s.mu.RUnlock()
	return h.c.shardInfoLocked(s), nil
}
