package server

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"connectrpc.com/connect"
	"github.com/cespare/xxhash/v2"
)

// Operation codes mixed into request fingerprints, so one idempotency key
// cannot be replayed for a different kind of write.
const (
	opPut byte = iota + 1
	opDelete
	opVectorCreate
	opVectorDrop
	opVectorInsert
	opVectorDelete
)

// fingerprint identifies a write request for idempotency: the same key sent
// with a different fingerprint is a client bug, not a retry. Fields are
// length-prefixed so ("ab","c") and ("a","bc") differ.
type fingerprinter struct{ d xxhash.Digest }

func newFingerprint(op byte) fingerprinter {
	var f fingerprinter
	f.d.Reset()
	_, _ = f.d.Write([]byte{op}) // xxhash.Digest never fails a write
	return f
}

func (f *fingerprinter) bytes(b []byte) {
	f.u64(uint64(len(b)))
	_, _ = f.d.Write(b) // xxhash.Digest never fails a write
}

func (f *fingerprinter) str(s string) {
	f.u64(uint64(len(s)))
	_, _ = f.d.WriteString(s) // xxhash.Digest never fails a write
}

func (f *fingerprinter) u64(u uint64) {
	var b [8]byte
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	_, _ = f.d.Write(b[:]) // xxhash.Digest never fails a write
}

func (f *fingerprinter) floats(v []float32) {
	f.u64(uint64(len(v)))
	for _, x := range v {
		f.u64(uint64(math.Float32bits(x)))
	}
}

func (f *fingerprinter) sum() uint64 { return f.d.Sum64() }

// idemResult is what a replay returns: the first attempt's version plus the
// one boolean every write response carries (tombstoned, created, ...).
type idemResult struct {
	ver  version
	flag bool
}

// scopedKey is an idempotency key in the scope it is unique in: its shard.
type scopedKey struct {
	shard uint32
	key   string
}

type idemEntry struct {
	k      scopedKey
	fp     uint64
	res    idemResult
	stored int64 // cluster clock when the write was applied
}

// idemCache remembers the idempotency keys of the writes the whole cluster
// applied, in one budget: a hot shard may use all of it (an even split over
// 1,024 shards left a shard under a thousand keys, forgotten inside a
// client's retry window).
//
// An entry is kept for ttl, unless the budget is full: then the oldest entry
// goes first, but only if it is older than window, the longest a client may
// still be retrying the write. When every entry is younger than that, a new
// keyed write is refused (RESOURCE_EXHAUSTED, which clients retry) rather
// than applied with a key that might be forgotten while the client can
// still retry it.
//
// Entries are stored by value in one FIFO, in the order writes were applied,
// which is expiry order too (every entry has the same lifetime), so expiry
// and eviction both pop the front. The map holds each key's sequence
// number. Lock order: a shard's mutex, then mu; never the other way.
type idemCache struct {
	mu       sync.Mutex
	m        map[scopedKey]uint64 // → sequence number of the key's entry
	entries  []idemEntry          // entries[head:] are live, oldest first
	head     int
	base     uint64 // sequence number of entries[0]
	reserved int    // writes admitted by begin, not yet committed or cancelled

	max         int
	ttl, window int64

	evictions uint64 // entries popped before their ttl to make room (metrics.go)
}

func newIdemCache(maxEntries int, ttl, window time.Duration) *idemCache {
	return &idemCache{max: maxEntries, ttl: int64(ttl), window: int64(min(window, ttl))}
}

var errIdemReused = errors.New("idempotency key was already used for a different request (another key, value or operation); use a new idempotency key per distinct write")

// begin looks up key for a write about to be applied. hit means it was
// applied before and res is its first result. A key remembered for a
// different request is INVALID_ARGUMENT. On a miss, a place in the budget
// is reserved for the write, to be given back by commit or cancel; if
// there is none, the error is RESOURCE_EXHAUSTED and nothing is reserved.
func (c *idemCache) begin(k scopedKey, fp uint64, now int64) (res idemResult, hit bool, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if seq, ok := c.m[k]; ok {
		e := &c.entries[seq-c.base]
		if e.stored+c.ttl > now {
			if e.fp != fp {
				return idemResult{}, false, connect.NewError(connect.CodeInvalidArgument, errIdemReused)
			}
			return e.res, true, nil
		}
	}
	c.pruneLocked(now)
	for c.len()+c.reserved >= c.max {
		if c.len() == 0 || c.entries[c.head].stored+c.window > now {
			return idemResult{}, false, c.fullError()
		}
		c.evictions++
		c.popFront()
	}
	c.reserved++
	return idemResult{}, false, nil
}

// commit remembers an applied write's result under the place begin
// reserved.
func (c *idemCache) commit(k scopedKey, fp uint64, res idemResult, now int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reserved--
	c.putLocked(k, fp, res, now)
}

// restore remembers a write loaded from the data dir, stored at the
// cluster clock's stored, with no reservation: loading is not a write.
// Entries must come oldest first; past the budget (max) the oldest are
// forgotten, as they would have been while running.
func (c *idemCache) restore(k scopedKey, fp uint64, res idemResult, stored int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.len() >= c.max {
		c.popFront()
	}
	c.putLocked(k, fp, res, stored)
}

func (c *idemCache) putLocked(k scopedKey, fp uint64, res idemResult, now int64) {
	if c.m == nil {
		c.m = make(map[scopedKey]uint64)
	}
	c.m[k] = c.base + uint64(len(c.entries))
	c.entries = append(c.entries, idemEntry{k: k, fp: fp, res: res, stored: now})
}

// cancel gives back the place begin reserved for a write that was not
// applied.
func (c *idemCache) cancel() {
	c.mu.Lock()
	c.reserved--
	c.mu.Unlock()
}

func (c *idemCache) fullError() error {
	return connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
		"idempotency cache full: the cluster remembers at most %d idempotency keys (Config.IdempotencyMaxEntries) and all of them are younger than the %v retry window (Config.IdempotencyRetryWindow), so this write was not applied; retry it later",
		c.max, time.Duration(c.window)))
}

// prune forgets expired entries.
func (c *idemCache) prune(now int64) {
	c.mu.Lock()
	c.pruneLocked(now)
	c.mu.Unlock()
}

func (c *idemCache) pruneLocked(now int64) {
	for c.head < len(c.entries) && c.entries[c.head].stored+c.ttl <= now {
		c.popFront()
	}
}

// size is the number of entries remembered, for tests and Stats.
func (c *idemCache) size() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.len()
}

func (c *idemCache) len() int { return len(c.entries) - c.head }

func (c *idemCache) popFront() {
	e := &c.entries[c.head]
	if seq, ok := c.m[e.k]; ok && seq == c.base+uint64(c.head) {
		delete(c.m, e.k)
	}
	*e = idemEntry{} // drop the key string
	c.head++
	// Compact once the dead prefix dominates, so the slice does not grow
	// forever.
	if c.head >= 1024 && c.head*2 >= len(c.entries) {
		n := copy(c.entries, c.entries[c.head:])
		clear(c.entries[n:])
		c.entries = c.entries[:n]
		c.base += uint64(c.head)
		c.head = 0
	}
	if c.head == len(c.entries) {
		c.base += uint64(c.head)
		c.entries = c.entries[:0]
		c.head = 0
		if cap(c.entries) > 4096 {
			c.entries = nil
			c.m = nil // maps never shrink; start over when empty
		}
	}
}
