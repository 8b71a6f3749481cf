package server

import (
	"slices"
	"sync"
	"sync/atomic"
)

// entry is one stored key. The key string is kept so the reaper can delete
// the entry the TTL heap names.
type entry struct {
	key     string
	value   []byte
	ver     version
	expires int64 // cluster clock nanoseconds; 0 = never
	hpos    int   // position in the shard's TTL heap plus one; 0 = not in it
}

func (e *entry) live(now int64) bool { return liveAt(e.expires, now) }

// liveAt reports whether a key with TTL deadline expires (cluster clock; 0
// = never) is still live at now: the one expiry rule, for the leader's
// entries and the lagging copies alike.
func liveAt(expires, now int64) bool { return expires == 0 || now < expires }

// opCounts counts applied writes by operation (idempotent replays are not
// applies). Kept per shard under the shard's mutex so the hot path touches
// no shared cache line.
type opCounts struct {
	puts, deletes, vectorCreates, vectorDrops, vectorInserts, vectorDeletes, replays uint64
}

// shard is the state of one shard, shared by all nodes (see the package
// doc): placement, keys, log position, TTL heap and vector namespaces. One
// RWMutex per shard keeps unrelated keys off each other's locks; the one
// lock shared by all shards on the request path is the idempotency
// cache's (idemCache), taken only by writes with an idempotency key.
type shard struct {
	id uint32

	mu sync.RWMutex

	// Placement. Written while holding both Cluster.topoMu and mu, so
	// holding either one is enough to read it.
	replicas []int // node indexes
	leader   int   // node index; -1 while no replica is up
	term     uint64

	index   uint64 // log index of the last write
	kv      map[string]*entry
	ttl     ttlHeap
	vectors map[string]*vectorNamespace
	ops     opCounts

	// journaled is set when writes are replicated with lag or persisted:
	// write handlers then note what they change in pending (recordPut,
	// recordDelete), which applied hands to rep and the store.
	journaled  bool
	pending    []logOp
	pendingVec []vecOp
	rep        *replication // nil without Config.ReplicationLag

	// nextDue is the earliest time the reaper has work here (a TTL
	// expiring), 0 if none. Read without the lock so the
	// reaper skips idle shards cheaply.
	nextDue atomic.Int64
}

func newShard(id uint32) *shard {
	return &shard{id: id, leader: -1, term: 1, kv: make(map[string]*entry)}
}

// hasReplica reports whether node holds a replica of s. Caller holds mu or
// topoMu.
func (s *shard) hasReplica(node int) bool {
	return slices.Contains(s.replicas, node)
}

// nextVersion appends one write to the shard's log. Caller holds mu.
func (s *shard) nextVersion() version {
	s.index++
	return version{term: s.term, index: s.index}
}

// due lowers nextDue to at. Caller holds mu.
func (s *shard) due(at int64) {
	if d := s.nextDue.Load(); d == 0 || at < d {
		s.nextDue.Store(at)
	}
}

// reap deletes expired keys, from the store too (st, nil without a data
// dir): under the shard's lock, so a write to a reaped key cannot be
// persisted before the deletion. It returns the store's error, if any.
func (s *shard) reap(now int64, st *store) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var gone []string
	for e := s.ttl.peek(); e != nil && e.expires <= now; e = s.ttl.peek() {
		s.ttl.remove(e)
		delete(s.kv, e.key)
		if s.rep != nil {
			s.rep.reaped(e.key, now)
		}
		if st != nil {
			gone = append(gone, e.key)
		}
	}
	var d int64
	if e := s.ttl.peek(); e != nil {
		d = e.expires
	}
	s.nextDue.Store(d)
	if len(gone) > 0 {
		return st.forget(s.id, gone)
	}
	return nil
}

// sizes reports the stored keys (including expired ones not yet reaped)
// and TTL heap items, for tests.
func (s *shard) sizes() (keys, heap int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.kv), len(s.ttl)
}
