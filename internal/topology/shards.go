package topology

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// The shard count is either configured (Config.TotalShards) or learnt
// from the first view (Config.TotalShards 0): the number of shards the
// ClusterView lists. Until it is known the leader cache does not exist,
// and calls wait for it (Shards). A configured count that differs from
// the cluster's is an error for every call, never a silent misroute.

// shardTable is the leader cache, one slot per shard. It is made once,
// when the count becomes known, and never resized.
type shardTable struct {
	leaders []atomic.Pointer[leader]
}

// slot returns shard's leader-cache entry, or nil if the count is not
// known yet or shard is out of range.
func (r *Router) slot(shard int) *atomic.Pointer[leader] {
	t := r.table.Load()
	if t == nil || shard < 0 || shard >= len(t.leaders) {
		return nil
	}
	return &t.leaders[shard]
}

// TotalShards is the shard count in use: the configured one, else the one
// learnt from the first view; 0 until known.
func (r *Router) TotalShards() int {
	if t := r.table.Load(); t != nil {
		return len(t.leaders)
	}
	return 0
}

// ShardsErr reports why calls cannot be routed by shard: the configured
// count differs from the cluster's, or it is to be learnt and the cluster
// cannot tell (it does not serve Meta, or its view lists no shards). It
// is nil otherwise, including while the first view is awaited. The error
// is INVALID_ARGUMENT: retrying cannot cure it.
func (m *Manager) ShardsErr() error {
	if b := m.shardsErr.Load(); b != nil {
		return b.err
	}
	if m.table.Load() == nil && m.w.noMeta.Load() {
		return connect.NewError(connect.CodeInvalidArgument, errors.New(
			"Config.TotalShards is 0 (learn it from the cluster), but the cluster does not serve Meta.WatchCluster: set Config.TotalShards to its shard count"))
	}
	return nil
}

// Shards returns the shard count to route a call by. When the count is to
// be learnt and no view has arrived yet, it waits for one within ctx
// (fetching it itself if there is no background watch).
func (m *Manager) Shards(ctx context.Context) (int, error) {
	for range 3 {
		if n := m.TotalShards(); n > 0 {
			if b := m.shardsErr.Load(); b != nil {
				return 0, b.err
			}
			return n, nil
		}
		if err := m.ShardsErr(); err != nil {
			return 0, err
		}
		if m.w.watch == nil {
			return 0, connect.NewError(connect.CodeInvalidArgument, errors.New("TotalShards is 0 and there is no cluster watch to learn it from"))
		}
		var err error
		if m.w.noBackground {
			err = m.fetchShared(ctx)
		} else {
			m.w.start()
			err = m.w.waitReady(ctx)
		}
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return 0, connect.NewError(connect.CodeOf(cerr), fmt.Errorf(
					"Config.TotalShards is 0 and no cluster view arrived in time to learn the shard count: %w", err))
			}
			return 0, err
		}
	}
	return 0, connect.NewError(connect.CodeUnavailable, errors.New("the cluster view did not give a shard count"))
}

// fetchShared is FetchOnce for callers waiting on the shard count: one
// fetch at a time, and none once the count is known.
func (m *Manager) fetchShared(ctx context.Context) error {
	select {
	case m.w.fetchSem <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-m.w.fetchSem }()
	if m.TotalShards() > 0 {
		return nil
	}
	err := m.w.fetchOnce(ctx)
	if connect.CodeOf(err) == connect.CodeUnimplemented {
		return nil // ShardsErr says it
	}
	return err
}

// learnShards makes the leader cache when v tells the count, and records a
// mismatch with the configured one. install calls it.
func (r *Router) learnShards(v *v1.ClusterView) {
	n := len(v.GetShards())
	t := r.table.Load()
	switch {
	case t == nil && n > 0:
		r.table.Store(&shardTable{leaders: make([]atomic.Pointer[leader], n)})
		r.shardsErr.Store(nil)
	case t == nil:
		r.shardsErr.Store(&errBox{connect.NewError(connect.CodeInvalidArgument, errors.New(
			"Config.TotalShards is 0 (learn it from the cluster), but the cluster view lists no shards: set Config.TotalShards"))})
	case n > 0 && n != len(t.leaders):
		what := "Config.TotalShards is"
		if r.configured == 0 {
			what = "the client learnt"
		}
		err := connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("%s %d but the cluster has %d shards", what, len(t.leaders), n))
		if b := r.shardsErr.Load(); b == nil || b.err.Error() != err.Error() {
			r.log.Warn("norikv: shard count mismatch; calls fail until it is fixed", "configured", len(t.leaders), "cluster", n)
		}
		r.shardsErr.Store(&errBox{err})
	default:
		r.shardsErr.Store(nil)
	}
}
