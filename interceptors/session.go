package interceptors

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"sync"
	"sync/atomic"

	"github.com/norikv/norikv-go/internal/wire"
)

// Session numbers one client's writes for servers that keep client
// sessions (docs/idempotency-sessions.md): a random client id, and a
// sequence number per write, 1, 2, 3, ..., carried with the lowest
// sequence still awaited (the watermark) in the write's idempotency key.
// The server keeps the answers from the watermark up, so exactly-once
// costs it memory per client and per call in flight, not per write.
//
// It stamps only when enabled says the cluster announces the capability
// (wire.SessionCapability). Against other servers, above all the Rust
// NoriKV server, which keeps every key it sees forever, writes go without
// an automatic key, and Retry repeats them only after failures that prove
// they were not applied.
//
// Every sequence handed out must be given back with Done once its caller
// awaits no answer for it, or the watermark stops there.
type Session struct {
	id      string
	enabled func() bool

	mu   sync.Mutex
	low  uint64 // lowest sequence issued and not done (next if none)
	next uint64 // next sequence to issue
	fin  []bool // fin[seq&(len-1)]: seq in [low, next) is done

	auto, bare atomic.Uint64
}

// SessionStats counts the writes a Session decided on.
type SessionStats struct {
	// AutoKeyed counts writes sent with an automatic session key.
	AutoKeyed uint64
	// Unkeyed counts writes sent with no idempotency key because the
	// cluster does not announce bounded idempotency memory.
	Unkeyed uint64
	// InFlight is how many sequences are awaited (handed out, not Done).
	InFlight uint64
}

// NewSession returns a session with a fresh random client id. enabled
// reports whether the cluster announces client sessions; nil means never.
func NewSession(enabled func() bool) *Session {
	var raw [16]byte
	_, _ = rand.Read(raw[:]) // crypto/rand.Read never fails on supported platforms
	return &Session{id: base64.RawURLEncoding.EncodeToString(raw[:]), enabled: enabled, low: 1, next: 1, fin: make([]bool, 64)}
}

// ID is the session's client id.
func (s *Session) ID() string { return s.id }

// Enabled reports whether writes get automatic session keys now.
func (s *Session) Enabled() bool { return s != nil && s.enabled != nil && s.enabled() }

// Stamp decides a write without a caller's key: with sessions enabled it
// returns the write's session key and sequence (give it back with Done);
// otherwise "" and 0, and the write goes without a key. Either way it is
// counted.
func (s *Session) Stamp() (key string, seq uint64) {
	if s == nil {
		return "", 0
	}
	if !s.Enabled() {
		s.bare.Add(1)
		return "", 0
	}
	s.auto.Add(1)
	s.mu.Lock()
	seq = s.next
	if seq-s.low >= uint64(len(s.fin)) {
		s.grow()
	}
	s.next++
	low := s.low
	s.mu.Unlock()
	var buf [wire.SessionKeyMaxLen]byte
	return string(wire.AppendSessionKey(buf[:0], s.id, seq, low)), seq
}

// grow doubles the done ring. Caller holds mu.
func (s *Session) grow() {
	fin := make([]bool, 2*len(s.fin))
	for q := s.low; q < s.next; q++ {
		fin[q&uint64(len(fin)-1)] = s.fin[q&uint64(len(s.fin)-1)]
	}
	s.fin = fin
}

// Done gives back seq: its caller awaits no answer for it any more (it
// has one, or gave up). Done(0) does nothing.
func (s *Session) Done(seq uint64) {
	if s == nil || seq == 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq < s.low || seq >= s.next {
		return
	}
	mask := uint64(len(s.fin) - 1)
	s.fin[seq&mask] = true
	for s.low < s.next && s.fin[s.low&mask] {
		s.fin[s.low&mask] = false
		s.low++
	}
}

// Watermark is the lowest sequence still awaited.
func (s *Session) Watermark() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.low
}

// Stats returns the counters.
func (s *Session) Stats() SessionStats {
	if s == nil {
		return SessionStats{}
	}
	s.mu.Lock()
	inflight := s.next - s.low
	s.mu.Unlock()
	return SessionStats{AutoKeyed: s.auto.Load(), Unkeyed: s.bare.Load(), InFlight: inflight}
}

type keyDecidedCtxKey struct{}

// WithKeyDecided marks ctx's call as a write whose key the caller already
// decided with the Session (the norikv client stamps the messages it
// builds): Retry then neither stamps it nor counts it again.
func WithKeyDecided(ctx context.Context) context.Context {
	return context.WithValue(ctx, keyDecidedCtxKey{}, true)
}

func keyDecided(ctx context.Context) bool { return ctx.Value(keyDecidedCtxKey{}) != nil }
