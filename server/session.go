package server

import (
	"cmp"
	"fmt"
	"slices"
	"sync"
	"time"
	"unsafe"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/internal/wire"
)

// This file is client sessions (docs/idempotency-sessions.md): the
// exactly-once table for writes whose idempotency key is in session form
// (internal/wire.ParseSessionKey), the form SDKs stamp on their writes
// automatically. Caller-chosen keys stay in the TTL cache
// (idempotency.go).
//
// The cost is per client and per call in flight, not per write: a session
// keeps the answers of its writes from its watermark (the lowest sequence
// its client still awaits, carried by every key) up, and drops the rest
// as soon as a key says the client moved past them. The answers sit in
// one dense slice indexed by sequence, 32 bytes each, so remembering an
// answer allocates nothing once the slice has grown to the client's
// window.

// Session limits' defaults.
const (
	// DefaultSessionIdleTimeout is how long a session without writes is
	// kept. Far longer than any client retries one write (an SDK's call
	// timeout is 5 s), so a retry never finds its session forgotten.
	DefaultSessionIdleTimeout = 5 * time.Minute
	// DefaultSessionMax bounds the sessions the cluster keeps: about
	// 200 bytes each when idle.
	DefaultSessionMax = 100_000
	// DefaultSessionMaxAnswers bounds the answers one session keeps, 32
	// bytes each: 32 MiB. A client's window (its newest sequence minus its
	// watermark) stays far below this at any rate (writes/s × the age of
	// its oldest call in flight, at most its call timeout).
	DefaultSessionMaxAnswers = 1 << 20
)

// sessionAnswer is what a replay of one session write returns.
type sessionAnswer struct {
	fp    uint64
	res   idemResult
	shard uint32
	set   bool
}

// answerBytes is one retained answer's size, for metrics.
const answerBytes = int(unsafe.Sizeof(sessionAnswer{}))

// session is one client's table.
type session struct {
	id string
	// floor is the lowest sequence whose answer may still be kept: the
	// highest watermark seen, or higher if the session outgrew
	// maxAnswers. A write below it is refused, never applied again.
	floor uint64
	// ans[head+i] is the answer of sequence floor+i (set false: none).
	ans  []sessionAnswer
	head int
	kept int // answers set in ans
	// storedFloor is the floor the data dir knows (storage.go).
	storedFloor uint64
	last        int64 // cluster clock of the last write
	prev, next  *session
}

// sessionTable is the cluster's sessions, one table for all shards, as
// the TTL cache is. Sessions are listed by last use, oldest first, for
// expiry. Lock order: a shard's mutex, then mu.
type sessionTable struct {
	mu         sync.Mutex
	m          map[string]*session
	head, tail *session // by last use, oldest first
	kept       int      // answers retained, all sessions

	idle, window int64
	max          int
	maxAnswers   int

	expired   uint64 // sessions forgotten after IdleTimeout
	evicted   uint64 // sessions forgotten early to make room
	overflows uint64 // answers dropped because a session outgrew maxAnswers
	refusals  uint64 // writes refused: below the floor

	// gone lists the sessions forgotten since the reaper last asked, for
	// the data dir (nil without one: track false).
	gone  []string
	track bool
}

func newSessionTable(cfg Config) *sessionTable {
	return &sessionTable{
		m:          make(map[string]*session),
		idle:       int64(max(cfg.SessionIdleTimeout, cfg.IdempotencyRetryWindow)),
		window:     int64(cfg.IdempotencyRetryWindow),
		max:        cfg.SessionMax,
		maxAnswers: cfg.SessionMaxAnswers,
	}
}

// sessionKeyOf parses key as a session key, unless the NoSessions defect
// makes this server treat it as an opaque key.
func (c *Cluster) sessionKeyOf(key string) (wire.SessionKey, bool) {
	k, ok := wire.ParseSessionKey(key)
	if !ok || c.defects().NoSessions {
		return wire.SessionKey{}, false
	}
	return k, true
}

// begin looks up a session write about to be applied to shard: hit means
// it was applied before and res is its first result. The key's watermark
// drops the answers below it first. A write below the session's floor is
// OUT_OF_RANGE, never applied again; a sequence remembered for another
// request is INVALID_ARGUMENT.
func (t *sessionTable) begin(k wire.SessionKey, shard uint32, fp uint64, now int64) (res idemResult, hit bool, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[k.ID]
	if s == nil {
		if s, err = t.open(k, now); err != nil {
			return idemResult{}, false, err
		}
	}
	t.touch(s, now)
	t.advance(s, k.Watermark)
	if k.Seq < s.floor {
		t.refusals++
		return idemResult{}, false, connect.NewError(connect.CodeOutOfRange, fmt.Errorf(
			"idempotency session: sequence %d is below the session's watermark %d, so its answer is no longer kept (the client said it awaits no answer below the watermark, or the session kept more than %d answers); it is not applied again, and this server cannot tell its outcome",
			k.Seq, s.floor, t.maxAnswers))
	}
	if i := k.Seq - s.floor; i < uint64(len(s.ans)-s.head) {
		if a := &s.ans[s.head+int(i)]; a.set {
			if a.fp != fp || a.shard != shard {
				return idemResult{}, false, connect.NewError(connect.CodeInvalidArgument, errIdemReused)
			}
			return a.res, true, nil
		}
	}
	return idemResult{}, false, nil
}

// open makes a session for k, evicting the least recently used one if the
// table is full and it has been idle past the retry window; if not, the
// write is refused (RESOURCE_EXHAUSTED, which clients retry).
func (t *sessionTable) open(k wire.SessionKey, now int64) (*session, error) {
	if len(t.m) >= t.max {
		if t.head == nil || t.head.last+t.window > now {
			return nil, connect.NewError(connect.CodeResourceExhausted, fmt.Errorf(
				"idempotency sessions full: the cluster keeps at most %d client sessions (Config.SessionMax) and all of them wrote within the %v retry window, so this write was not applied; retry it later",
				t.max, time.Duration(t.window)))
		}
		t.evicted++
		t.drop(t.head)
	}
	s := &session{id: string([]byte(k.ID)), floor: k.Watermark, storedFloor: k.Watermark, last: now}
	t.m[s.id] = s
	t.pushBack(s)
	return s, nil
}

// commit remembers the answer of a session write applied to shard.
func (t *sessionTable) commit(k wire.SessionKey, shard uint32, fp uint64, res idemResult, now int64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.m[k.ID]
	if s == nil {
		// Forgotten between begin and commit (a test's clock jump, or
		// evicted): open it again, so a retry still replays.
		s = &session{id: string([]byte(k.ID)), floor: k.Watermark, storedFloor: k.Watermark, last: now}
		t.m[s.id] = s
		t.pushBack(s)
	}
	t.put(s, k.Seq, sessionAnswer{fp: fp, res: res, shard: shard, set: true})
}

// put stores a's answer for seq, dropping the lowest answers if the
// session would outgrow maxAnswers. Caller holds mu.
func (t *sessionTable) put(s *session, seq uint64, a sessionAnswer) {
	if seq < s.floor {
		return // the client moved past it meanwhile: nothing to keep
	}
	if seq-s.floor >= uint64(t.maxAnswers) {
		before := s.kept
		t.advance(s, seq-uint64(t.maxAnswers)+1)
		t.overflows += uint64(before - s.kept)
	}
	i := s.head + int(seq-s.floor)
	if i >= len(s.ans) {
		if i >= cap(s.ans) && s.head > 0 {
			// Slide the live part to the front before growing.
			n := copy(s.ans, s.ans[s.head:])
			clear(s.ans[n:])
			s.ans = s.ans[:n]
			i -= s.head
			s.head = 0
		}
		s.ans = append(s.ans, make([]sessionAnswer, i+1-len(s.ans))...)
	}
	if !s.ans[i].set {
		s.kept++
		t.kept++
	}
	s.ans[i] = a
}

// advance raises s's floor to w, dropping the answers below it. Caller
// holds mu.
func (t *sessionTable) advance(s *session, w uint64) {
	if w <= s.floor {
		return
	}
	n := uint64(len(s.ans) - s.head)
	d := min(w-s.floor, n)
	for _, a := range s.ans[s.head : s.head+int(d)] {
		if a.set {
			s.kept--
			t.kept--
		}
	}
	clear(s.ans[s.head : s.head+int(d)])
	s.head += int(d)
	s.floor = w
	if s.head == len(s.ans) {
		s.ans, s.head = s.ans[:0], 0
	}
}

// prune forgets sessions idle for longer than the idle timeout, and
// returns the ids of every session forgotten since the last call, when
// tracked for the data dir.
func (t *sessionTable) prune(now int64) (gone []string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for t.head != nil && t.head.last+t.idle <= now {
		t.expired++
		t.drop(t.head)
	}
	gone, t.gone = t.gone, nil
	return gone
}

func (t *sessionTable) drop(s *session) {
	t.unlink(s)
	t.kept -= s.kept
	delete(t.m, s.id)
	if t.track {
		t.gone = append(t.gone, s.id)
	}
}

// sortByLastUse rebuilds the list in order of last use, after loading.
func (t *sessionTable) sortByLastUse() {
	all := make([]*session, 0, len(t.m))
	for _, s := range t.m {
		all = append(all, s)
	}
	slices.SortFunc(all, func(a, b *session) int { return cmp.Compare(a.last, b.last) })
	t.head, t.tail = nil, nil
	for _, s := range all {
		t.pushBack(s)
	}
}

func (t *sessionTable) touch(s *session, now int64) {
	s.last = now
	if t.tail != s {
		t.unlink(s)
		t.pushBack(s)
	}
}

func (t *sessionTable) pushBack(s *session) {
	s.prev, s.next = t.tail, nil
	if t.tail != nil {
		t.tail.next = s
	} else {
		t.head = s
	}
	t.tail = s
}

func (t *sessionTable) unlink(s *session) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		t.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		t.tail = s.prev
	}
	s.prev, s.next = nil, nil
}

// SessionStats is the memory client sessions cost, for /metrics and the
// web console.
type SessionStats struct {
	Sessions int    // client sessions kept
	Answers  int    // answers retained, all sessions
	Bytes    int64  // approximate heap bytes of both
	Expired  uint64 // sessions forgotten after Config.SessionIdleTimeout
	Evicted  uint64 // sessions forgotten early to make room (Config.SessionMax)
	Dropped  uint64 // answers dropped because a session outgrew Config.SessionMaxAnswers
	Refused  uint64 // writes refused for a sequence below their session's watermark
}

// sessionBytes is the approximate heap cost of a session without its
// answers: the struct, its id and its map entry.
const sessionBytes = int(unsafe.Sizeof(session{})) + wire.SessionIDLen + 48

// SessionStats reports the client sessions' memory and counters.
func (c *Cluster) SessionStats() SessionStats {
	t := c.sessions
	t.mu.Lock()
	defer t.mu.Unlock()
	var slots int
	for _, s := range t.m {
		slots += cap(s.ans)
	}
	return SessionStats{
		Sessions: len(t.m),
		Answers:  t.kept,
		Bytes:    int64(len(t.m)*sessionBytes + slots*answerBytes),
		Expired:  t.expired,
		Evicted:  t.evicted,
		Dropped:  t.overflows,
		Refused:  t.refusals,
	}
}
