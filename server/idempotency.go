package server

import (
	"errors"
	"math"

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
	f.d.Write([]byte{op})
	return f
}

func (f *fingerprinter) bytes(b []byte) {
	f.u64(uint64(len(b)))
	f.d.Write(b)
}

func (f *fingerprinter) str(s string) {
	f.u64(uint64(len(s)))
	f.d.WriteString(s)
}

func (f *fingerprinter) u64(u uint64) {
	var b [8]byte
	for i := range b {
		b[i] = byte(u >> (8 * i))
	}
	f.d.Write(b[:])
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

type idemEntry struct {
	key     string
	fp      uint64
	res     idemResult
	expires int64
}

// idemCache remembers a shard's recently applied idempotency keys. It is
// bounded twice: entries expire after the retention window, and at most max
// are kept (the oldest go first). Every entry has the same lifetime, so
// insertion order is expiry order and a FIFO queue serves both bounds.
// Guarded by the shard's mutex.
type idemCache struct {
	m     map[string]*idemEntry
	queue []*idemEntry
	head  int
}

var errIdemReused = errors.New("idempotency key was already used for a different request (another key, value or operation); use a new idempotency key per distinct write")

// lookup returns the remembered result of key. A key remembered for a
// different request is INVALID_ARGUMENT.
func (c *idemCache) lookup(key string, fp uint64, now int64) (idemResult, bool, error) {
	e := c.m[key]
	if e == nil || e.expires <= now {
		return idemResult{}, false, nil
	}
	if e.fp != fp {
		return idemResult{}, false, connect.NewError(connect.CodeInvalidArgument, errIdemReused)
	}
	return e.res, true, nil
}

// store remembers key's result until now+ttl, evicting expired entries and,
// if still full, the oldest ones.
func (c *idemCache) store(key string, fp uint64, res idemResult, now, ttl int64, max int) {
	c.prune(now)
	for len(c.queue)-c.head >= max {
		c.popFront()
	}
	if c.m == nil {
		c.m = make(map[string]*idemEntry)
	}
	e := &idemEntry{key: key, fp: fp, res: res, expires: now + ttl}
	c.m[key] = e
	c.queue = append(c.queue, e)
}

// prune drops expired entries from the front of the queue.
func (c *idemCache) prune(now int64) {
	for c.head < len(c.queue) && c.queue[c.head].expires <= now {
		c.popFront()
	}
}

// nextExpiry is when the oldest entry expires, or 0 if there is none.
func (c *idemCache) nextExpiry() int64 {
	if c.head < len(c.queue) {
		return c.queue[c.head].expires
	}
	return 0
}

func (c *idemCache) len() int { return len(c.queue) - c.head }

func (c *idemCache) popFront() {
	e := c.queue[c.head]
	c.queue[c.head] = nil
	c.head++
	if c.m[e.key] == e {
		delete(c.m, e.key)
	}
	// Compact once the dead prefix dominates, so the slice does not grow
	// forever and freed entries can be collected.
	if c.head >= 1024 && c.head*2 >= len(c.queue) {
		n := copy(c.queue, c.queue[c.head:])
		clear(c.queue[n:])
		c.queue = c.queue[:n]
		c.head = 0
	}
	if c.head == len(c.queue) {
		c.queue = c.queue[:0]
		c.head = 0
		if len(c.m) == 0 && cap(c.queue) > 4096 {
			c.queue = nil
			c.m = nil // maps never shrink; start over when empty
		}
	}
}
