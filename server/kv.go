package server

import (
	"context"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

// kvService serves norikv.v1.Kv on one node.
//
// Requests are not copied: the stored value aliases PutRequest.value, which
// connect unmarshals into a fresh buffer per request. Callers invoking the
// methods directly hand the request over the same way.
type kvService struct {
	c    *Cluster
	node int
}

// Put writes a key (see the Kv service and the package doc).
func (h *kvService) Put(ctx context.Context, req *v1.PutRequest) (*v1.PutResponse, error) {
	c := h.c
	s := c.shardFor(req.Key)
	var fp uint64
	if req.IdempotencyKey != "" {
		f := newFingerprint(opPut)
		f.bytes(req.Key)
		f.bytes(req.Value)
		f.u64(req.TtlMs)
		fingerprintIfMatch(&f, req.IfMatch)
		fp = f.sum()
	}
	idemKey, fp := c.idemTerms(req.IdempotencyKey, fp)
	now := c.clock()
	first, replayed, err := c.lockForWrite(ctx, s, h.node, idemKey, fp, now)
	if err != nil {
		return nil, err
	}
	if replayed {
		return putResponse(first.ver), nil
	}
	cur := s.kv[string(req.Key)]
	if cur != nil && !cur.live(now) {
		cur = nil // expired: as good as absent, and will be overwritten
	}
	if err := checkIfMatch(req.IfMatch, cur); err != nil {
		c.abandon(s, idemKey)
		return nil, err
	}
	ver := s.nextVersion()
	e := s.kv[string(req.Key)]
	if e == nil {
		// A new key: the only write that allocates the key string.
		e = &entry{key: string(req.Key)}
		s.kv[e.key] = e
	}
	e.value, e.ver, e.expires = req.Value, ver, 0
	if req.TtlMs > 0 {
		e.expires = now + int64(req.TtlMs)*1e6 // ≤ 10 years: no overflow
		s.ttl.set(e)
		s.due(e.expires)
	} else {
		s.ttl.remove(e)
	}
	s.recordPut(e)
	s.ops.puts++
	c.applied(s, idemKey, fp, idemResult{ver: ver}, now)
	return putResponse(ver), nil
}

// Get reads a key. A missing or expired key is answered as the NoriKV
// server does: OK with an empty value and no version (the Python and
// TypeScript SDKs fail on a NOT_FOUND status). A stored value always has a
// version, so a stored empty value is still told apart.
func (h *kvService) Get(ctx context.Context, req *v1.GetRequest) (*v1.GetResponse, error) {
	c := h.c
	cons, ok := wire.ParseConsistency(req.Consistency)
	if !ok {
		// The validation interceptor rejects these first; this covers
		// direct calls.
		return nil, invalidArgument("consistency: unknown level " + quote(req.Consistency))
	}
	s := c.shardFor(req.Key)
	now := c.clock()
	s.mu.RLock()
	if err := c.route(ctx, s, h.node, cons.NeedsLeader()); err != nil {
		s.mu.RUnlock()
		return nil, err
	}
	value, ver, found := s.lookup(h.node, req.Key, now)
	s.mu.RUnlock()
	if !found {
		if c.defects().MissingKeyNotFound {
			return nil, notFound("key not found")
		}
		return &v1.GetResponse{}, nil
	}
	return getResponse(value, ver), nil
}

// Delete removes a key; tombstoned says whether a live key was removed.
func (h *kvService) Delete(ctx context.Context, req *v1.DeleteRequest) (*v1.DeleteResponse, error) {
	c := h.c
	s := c.shardFor(req.Key)
	var fp uint64
	if req.IdempotencyKey != "" {
		f := newFingerprint(opDelete)
		f.bytes(req.Key)
		fingerprintIfMatch(&f, req.IfMatch)
		fp = f.sum()
	}
	idemKey, fp := c.idemTerms(req.IdempotencyKey, fp)
	now := c.clock()
	first, replayed, err := c.lockForWrite(ctx, s, h.node, idemKey, fp, now)
	if err != nil {
		return nil, err
	}
	if replayed {
		return &v1.DeleteResponse{Tombstoned: first.flag, Version: first.ver.proto()}, nil
	}
	e := s.kv[string(req.Key)]
	live := e != nil && e.live(now)
	var cur *entry
	if live {
		cur = e
	}
	ifMatch := req.IfMatch
	if c.defects().IgnoreDeleteIfMatch {
		ifMatch = nil
	}
	if err := checkIfMatch(ifMatch, cur); err != nil {
		c.abandon(s, idemKey)
		return nil, err
	}
	ver := s.nextVersion()
	if e != nil {
		s.ttl.remove(e)
		delete(s.kv, string(req.Key))
	}
	s.recordDelete(req.Key, ver)
	s.ops.deletes++
	c.applied(s, idemKey, fp, idemResult{ver: ver, flag: live}, now)
	return &v1.DeleteResponse{Tombstoned: live, Version: ver.proto()}, nil
}

// lockForWrite takes s.mu for a write that node received: only the
// shard's leader may apply it, and a retry of an idempotent write already
// applied is answered with the first result (replayed). It returns with
// s.mu held only when err is nil and replayed is false: the caller applies
// the write and ends with applied (which remembers the idempotency key) or
// abandon, either of which unlocks. Pass the idempotency key and
// fingerprint through idemTerms first, as every write handler does, so the
// idempotency defects apply to it too.
func (c *Cluster) lockForWrite(ctx context.Context, s *shard, node int, idemKey string, fp uint64, now int64) (first idemResult, replayed bool, err error) {
	s.mu.Lock()
	if err := c.route(ctx, s, node, true); err != nil {
		s.mu.Unlock()
		return idemResult{}, false, err
	}
	if idemKey != "" {
		if sk, ok := c.sessionKeyOf(idemKey); ok {
			first, replayed, err = c.sessions.begin(sk, s.id, fp, now)
		} else {
			first, replayed, err = c.idem.begin(scopedKey{shard: s.id, key: idemKey}, fp, now)
		}
		if replayed {
			s.ops.replays++
		}
		if err != nil || replayed {
			s.mu.Unlock()
			return first, replayed, err
		}
	}
	return idemResult{}, false, nil
}

// applied remembers an applied write's idempotency key (in its client
// session, for a session key: session.go), replicates and
// persists what it changed (see recordPut), and unlocks s.mu.
func (c *Cluster) applied(s *shard, key string, fp uint64, res idemResult, now int64) {
	if s.journaled {
		c.journal(s, key, fp, res, now)
	}
	if key != "" {
		if sk, ok := c.sessionKeyOf(key); ok {
			c.sessions.commit(sk, s.id, fp, res, now)
		} else {
			c.idem.commit(scopedKey{shard: s.id, key: key}, fp, res, now)
		}
	}
	s.mu.Unlock()
}

// abandon ends a write lockForWrite admitted but that was not applied (a
// failed precondition, say) and unlocks s.mu.
func (c *Cluster) abandon(s *shard, key string) {
	s.dropPending()
	if _, session := c.sessionKeyOf(key); key != "" && !session {
		c.idem.cancel() // sessions reserve nothing
	}
	s.mu.Unlock()
}

// checkIfMatch enforces a compare-and-swap precondition against the key's
// current live entry (nil if absent).
func checkIfMatch(want *v1.Version, cur *entry) error {
	if want == nil {
		return nil
	}
	w := versionOf(want)
	if cur == nil {
		return failedPrecondition("version mismatch: if_match expects version " + w.String() + " but the key does not exist")
	}
	if cur.ver != w {
		return failedPrecondition("version mismatch: if_match expects version " + w.String() + " but the current version is " + cur.ver.String())
	}
	return nil
}

func fingerprintIfMatch(f *fingerprinter, v *v1.Version) {
	if v == nil {
		f.u64(0)
		return
	}
	f.u64(1)
	f.u64(v.Term)
	f.u64(v.Index)
}
