package conformance

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/wire"
)

// cell is one case running over one transport. Its keys and namespaces all
// start with tag, so cells never touch each other's data.
type cell struct {
	ctx context.Context
	r   *runner
	d   *dialer
	t   Transport
	tag string

	cleanups []func(context.Context)
}

// key returns a key unique to this cell.
func (c *cell) key(name string) []byte { return []byte(c.tag + name) }

// ns returns a vector namespace unique to this cell.
func (c *cell) ns(name string) string { return c.tag + name }

// keysOnShard returns n distinct keys of this cell that live on one shard,
// chosen at random so concurrent cells mostly use different shards. It
// returns nil when the shard count is unknown.
func (c *cell) keysOnShard(name string, n int) (keys [][]byte, shard int) {
	total := c.r.totalShards
	if total == 0 {
		return nil, 0
	}
	shard = rand.IntN(total)
	for i := 0; len(keys) < n; i++ {
		k := c.key(name + "-" + strconv.Itoa(i))
		if routing.Shard(k, total) == shard {
			keys = append(keys, k)
		}
	}
	return keys, shard
}

// onCleanup registers f to run when the cell ends, with a fresh context:
// the cell's own may have expired.
func (c *cell) onCleanup(f func(context.Context)) { c.cleanups = append(c.cleanups, f) }

func (c *cell) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, v := range slices.Backward(c.cleanups) {
		v(ctx)
	}
}

// shardOf is the shard of routing bytes (a key, or a namespace's bytes),
// or -1 when the shard count is unknown.
func (c *cell) shardOf(b []byte) int {
	if c.r.totalShards == 0 {
		return -1
	}
	return routing.Shard(b, c.r.totalShards)
}

// leaderOf returns the id and address of the node believed to lead the
// shard of b. Without a view it is the first configured address.
func (c *cell) leaderOf(b []byte) (id, addr string) {
	s := c.shardOf(b)
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if s >= 0 {
		if id, ok := c.r.leaders[uint32(s)]; ok {
			if addr, ok := c.r.addrs[id]; ok {
				return id, addr
			}
		}
	}
	return "", c.r.target.Addrs[0]
}

// routed calls f on the leader of b's shard, following up to three
// NOT_LEADER hints (an address the view or the target lists, or a node id
// the view knows). Requests that only a leader serves are never applied by
// a follower, so following a hint cannot write twice. The not_leader case
// checks the hints themselves; here they only keep other cases on target
// when leadership moved since the view was read.
func (c *cell) routed(b []byte, f func(*clients) error) error {
	_, addr := c.leaderOf(b)
	var err error
	for range 4 {
		err = f(c.d.to(addr))
		h, ok := wire.ParseNotLeader(err)
		if !ok {
			return err
		}
		// Follow an address only if the cluster itself lists it: a reply
		// must not be able to send the target's token to another host.
		c.r.mu.Lock()
		next := ""
		switch {
		case h.LeaderAddr != "" && c.r.knownAddr(h.LeaderAddr):
			next = h.LeaderAddr
		case h.LeaderID != "":
			next = c.r.addrs[h.LeaderID]
		}
		if s := c.shardOf(b); s >= 0 && h.LeaderID != "" {
			c.r.leaders[uint32(s)] = h.LeaderID
		}
		c.r.mu.Unlock()
		if next == "" || next == addr {
			return err
		}
		addr = next
	}
	return err
}

func (c *cell) put(req *v1.PutRequest) (resp *v1.PutResponse, err error) {
	err = c.routed(req.GetKey(), func(cl *clients) error {
		resp, err = cl.kv.Put(c.ctx, req)
		return err
	})
	return resp, err
}

func (c *cell) get(req *v1.GetRequest) (resp *v1.GetResponse, err error) {
	err = c.routed(req.GetKey(), func(cl *clients) error {
		resp, err = cl.kv.Get(c.ctx, req)
		return err
	})
	return resp, err
}

func (c *cell) del(req *v1.DeleteRequest) (resp *v1.DeleteResponse, err error) {
	err = c.routed(req.GetKey(), func(cl *clients) error {
		resp, err = cl.kv.Delete(c.ctx, req)
		return err
	})
	return resp, err
}

// mustPut writes key = value and schedules its removal.
func (c *cell) mustPut(key, value []byte) (*v1.Version, error) {
	c.cleanupKey(key)
	resp, err := c.put(&v1.PutRequest{Key: key, Value: value})
	if err != nil {
		return nil, fmt.Errorf("put %q: %s", key, describe(err))
	}
	if resp.GetVersion() == nil {
		return nil, fmt.Errorf("put %q: response has no version", key)
	}
	return resp.GetVersion(), nil
}

// cleanupKey deletes key when the cell ends (once, whatever the outcome).
func (c *cell) cleanupKey(key []byte) {
	c.onCleanup(func(ctx context.Context) {
		cc := *c
		cc.ctx = ctx
		_, _ = cc.del(&v1.DeleteRequest{Key: key})
	})
}
