package server

import "sync"

// This file models replication: with Config.ReplicationLag > 0 every
// replica of a shard has its own applied copy of the shard's keys.
//
// The model. A shard with R replicas acknowledges a write once a majority
// (R/2+1) of them hold it: the leader and the R/2 replicas after it in the
// shard's replica order (the "synchronous followers") apply it before the
// reply; the remaining followers apply it ReplicationLag after the leader
// did. The leader's copy is the shard's own state (shard.kv), which the
// handlers change; the synchronous followers read that same copy (they hold
// exactly what it holds), and each lagging follower has a laggedCopy fed
// from the shard's replication log. Leadership moves only to a replica that
// holds every acknowledged write: a transfer or failover to a lagging
// follower first catches it up (as Raft's leader transfer waits for the
// target's log, and an election needs a majority that includes a
// synchronous follower), which here means dropping its copy, since caught
// up it is the leader's copy.
//
// Lease and linearizable reads go to the leader and never see lag; stale_ok
// reads served by a lagging follower do. Vector namespaces are not lagged.
// With ReplicationLag 0 there is one shared copy and no log (today's speed).

// logOp is one key write in a shard's replication log.
type logOp struct {
	at      int64 // cluster clock when the leader applied it
	key     string
	value   []byte
	ver     version
	expires int64 // cluster clock; 0 = never
	del     bool
}

// lagEntry is a key as a lagging follower holds it.
type lagEntry struct {
	value   []byte
	ver     version
	expires int64
}

// laggedCopy is a lagging follower's applied state. Its mu lets stale reads,
// which hold only the shard's read lock, apply the ops that came due.
type laggedCopy struct {
	mu   sync.Mutex
	next uint64 // log sequence number of the next op to apply
	kv   map[string]lagEntry
}

// replication is a shard's log and its lagging followers. Guarded by the
// shard's mutex (the log is appended and trimmed under the write lock);
// each copy also by its own mu.
type replication struct {
	lag    int64
	log    []logOp // ops some lagging copy has not applied, oldest first
	base   uint64  // sequence number of log[0]
	copies map[int]*laggedCopy
}

// recordPut and recordDelete note a key the write being applied changed,
// for the replication log and the store; applied hands them on. No-ops
// with neither configured. Caller holds s.mu for writing.
func (s *shard) recordPut(e *entry) {
	if s.journaled {
		s.pending = append(s.pending, logOp{key: e.key, value: e.value, ver: e.ver, expires: e.expires})
	}
}

func (s *shard) recordDelete(key []byte, ver version) {
	if s.journaled {
		s.pending = append(s.pending, logOp{key: string(key), ver: ver, del: true})
	}
}

// replicate appends the ops of an applied write to the log at now and
// lets the lagging copies apply what came due. Caller holds s.mu for
// writing.
func (r *replication) replicate(ops []logOp, now int64) {
	for i := range ops {
		ops[i].at = now
	}
	r.log = append(r.log, ops...)
	low := r.base + uint64(len(r.log))
	for _, cp := range r.copies {
		cp.mu.Lock()
		r.advance(cp, now)
		low = min(low, cp.next)
		cp.mu.Unlock()
	}
	// Trim what every copy applied; compact so the slice does not grow.
	if k := int(low - r.base); k > 0 {
		n := copy(r.log, r.log[k:])
		clear(r.log[n:])
		r.log = r.log[:n]
		r.base = low
	}
}

// advance applies to cp the ops that are due at now. Caller holds cp.mu and
// s.mu (either way).
func (r *replication) advance(cp *laggedCopy, now int64) {
	for cp.next < r.base+uint64(len(r.log)) {
		op := &r.log[cp.next-r.base]
		if op.at+r.lag > now {
			return
		}
		if op.del || !liveAt(op.expires, now) {
			delete(cp.kv, op.key) // an expired key is as good as absent
		} else {
			cp.kv[op.key] = lagEntry{value: op.value, ver: op.ver, expires: op.expires}
		}
		cp.next++
	}
}

// reaped drops key from the lagging copies that hold it expired, after the
// reaper deleted it from the leader's. Caller holds s.mu for writing.
func (r *replication) reaped(key string, now int64) {
	for _, cp := range r.copies {
		cp.mu.Lock()
		if le, ok := cp.kv[key]; ok && !liveAt(le.expires, now) {
			delete(cp.kv, key)
		}
		cp.mu.Unlock()
	}
}

// lookup reads key as node's replica of s holds it at now. Caller holds
// s.mu (either way) and has routed the read to node.
func (s *shard) lookup(node int, key []byte, now int64) (value []byte, ver version, ok bool) {
	if r := s.rep; r != nil && node != s.leader {
		if cp := r.copies[node]; cp != nil {
			cp.mu.Lock()
			r.advance(cp, now)
			le, found := cp.kv[string(key)]
			cp.mu.Unlock()
			if !found || !liveAt(le.expires, now) {
				return nil, version{}, false
			}
			return le.value, le.ver, true
		}
	}
	e := s.kv[string(key)]
	if e == nil || !e.live(now) {
		return nil, version{}, false
	}
	return e.value, e.ver, true
}

// assignCopies decides, after the leader changed, which replicas lag: those
// not among the leader and the R/2 replicas after it. A replica that stops
// lagging is caught up (its copy dropped: it now reads the leader's); one
// that starts lagging starts from the shard's current state. Caller holds
// s.mu for writing.
func (s *shard) assignCopies() {
	r := s.rep
	if r == nil {
		return
	}
	sync := make(map[int]bool, len(s.replicas))
	if s.leader >= 0 {
		at := indexOf(s.replicas, s.leader)
		for k := 0; k <= len(s.replicas)/2; k++ {
			sync[s.replicas[(at+k)%len(s.replicas)]] = true
		}
	}
	for _, node := range s.replicas {
		switch cp := r.copies[node]; {
		case sync[node]:
			delete(r.copies, node)
		case cp == nil:
			cp = &laggedCopy{next: r.base + uint64(len(r.log)), kv: make(map[string]lagEntry, len(s.kv))}
			for k, e := range s.kv {
				cp.kv[k] = lagEntry{value: e.value, ver: e.ver, expires: e.expires}
			}
			r.copies[node] = cp
		}
	}
}

// resetCopies drops the lagging copies and makes them again from the
// shard's state: after the store loaded it, the copies made at placement
// hold nothing. Caller holds s.mu for writing or owns s.
func (s *shard) resetCopies() {
	if s.rep != nil {
		clear(s.rep.copies)
		s.assignCopies()
	}
}

// laggingReplicas returns the node indexes of s's lagging followers, for
// tests. Caller holds s.mu.
func (s *shard) laggingReplicas() []int {
	if s.rep == nil {
		return nil
	}
	var out []int
	for _, node := range s.replicas {
		if s.rep.copies[node] != nil {
			out = append(out, node)
		}
	}
	return out
}

// journal hands the changes of an applied write (s.pending, s.pendingVec)
// to the store, then to the replication log. Caller holds s.mu for
// writing.
func (c *Cluster) journal(s *shard, idemKey string, fp uint64, res idemResult, now int64) {
	if st := c.store; st != nil {
		if err := st.persist(s, idemKey, fp, res, now); err != nil {
			c.persistFailed(s, idemKey, err)
		}
	}
	if s.rep != nil && len(s.pending) > 0 {
		s.rep.replicate(s.pending, now)
	}
	s.dropPending()
}

// dropPending forgets the noted changes of the write being applied or
// abandoned, clearing them so the slices, reused by the next write, do not
// keep its keys and values alive. Caller holds s.mu for writing.
func (s *shard) dropPending() {
	clear(s.pending)
	s.pending = s.pending[:0]
	clear(s.pendingVec)
	s.pendingVec = s.pendingVec[:0]
}
