package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/wire"
)

// This file is the server's side of NOT_LEADER: whether a node may serve a
// request for a shard, and the redirect it answers when it may not. The
// wire form of the reply is internal/wire's; every handler (Kv, Vector, and
// any new service) asks route before touching a shard's state.

// route checks that node may serve a request on s: the leader for writes
// and leader reads, any replica for stale reads. Anything else is
// redirected with NOT_LEADER. Caller holds s.mu.
func (c *Cluster) route(ctx context.Context, s *shard, node int, needLeader bool) error {
	if c.store != nil {
		if err := c.storageFailed(); err != nil {
			return err
		}
	}
	if s.leader == node || (!needLeader && s.hasReplica(node)) {
		return nil
	}
	return c.notLeader(ctx, s)
}

// notLeader builds the NOT_LEADER reply for s. Caller holds s.mu.
//
// wire.NewNotLeaderError puts the hint in the error's metadata, which
// connect sends in the headers on some protocols and in the trailers on
// others. Clients look in either, so in a handler the hint is moved to the
// call's response headers and trailers, which every protocol delivers.
func (c *Cluster) notLeader(ctx context.Context, s *shard) error {
	var id, addr string
	if s.leader >= 0 {
		id, addr = c.nodes[s.leader].id, c.nodes[s.leader].addr
	}
	d := c.defects()
	switch {
	case d.NoLeaderHint:
		return connect.NewError(connect.CodeUnavailable, errors.New(wire.NotLeaderPrefix+": this node does not lead the shard"))
	case d.ForeignLeaderHint != "" && id != "":
		addr = d.ForeignLeaderHint
	}
	err := wire.NewNotLeaderError(s.id, id, addr)
	if id == "" {
		return err
	}
	if d.LeaderHintNodeID {
		err.Meta().Set(wire.HeaderLeaderHint, id)
		err.Meta().Del(wire.HeaderLeaderID)
	}
	// An operation of a Kv.Batch carries its hint in its BatchError; the
	// batch's headers are not its to write (and its operations may run
	// concurrently).
	if info, ok := connect.CallInfoForHandlerContext(ctx); ok && ctx.Value(batchOpCtxKey{}) == nil {
		for _, k := range [...]string{wire.HeaderLeaderHint, wire.HeaderLeaderAddr, wire.HeaderLeaderID} {
			v := err.Meta().Get(k)
			if v == "" {
				continue
			}
			info.ResponseHeader().Set(k, v)
			info.ResponseTrailer().Set(k, v)
			// Otherwise connect adds it a second time.
			err.Meta().Del(k)
		}
	}
	return err
}
