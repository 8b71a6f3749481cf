// Package wire holds the NoriKV wire conventions that the client and the
// embedded server must agree on: consistency spellings, the NOT_LEADER reply
// and its metadata, the idempotency header. See ../shared/CONTRACT.md.
//
// Both sides import this one package so a convention cannot drift between
// them.
package wire

import (
	"errors"
	"strings"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Consistency is a read's consistency class after the wire spellings are
// normalised.
type Consistency int

const (
	// Lease is a leader read: "" or "lease".
	Lease Consistency = iota
	// Linearizable is a leader read: "strong" or "linearizable".
	Linearizable
	// StaleOK may be served by any replica: "eventual", "stale_ok" or
	// "bounded_staleness".
	StaleOK
)

// The spellings a client sends. Existing servers understand only "",
// "strong", "eventual" and "bounded_staleness", so clients send these.
const (
	SendLease        = ""
	SendLinearizable = "strong"
	SendStaleOK      = "eventual"
)

// ParseConsistency maps any of the seven accepted spellings to its class.
// ok is false for any other string.
func ParseConsistency(s string) (c Consistency, ok bool) {
	switch s {
	case "", "lease":
		return Lease, true
	case "strong", "linearizable":
		return Linearizable, true
	case "eventual", "stale_ok", "bounded_staleness":
		return StaleOK, true
	}
	return Lease, false
}

// Spelling is the string a client sends for c.
func (c Consistency) Spelling() string {
	switch c {
	case Linearizable:
		return SendLinearizable
	case StaleOK:
		return SendStaleOK
	}
	return SendLease
}

// NeedsLeader reports whether reads of class c must be served by the
// shard's leader.
func (c Consistency) NeedsLeader() bool { return c != StaleOK }

// Metadata keys of a NOT_LEADER reply. The server sets both in the response
// headers and trailers, so every protocol delivers them.
const (
	// HeaderLeaderHint carries the leader's node id.
	HeaderLeaderHint = "leader-hint"
	// HeaderLeaderAddr carries the leader's address, host:port.
	HeaderLeaderAddr = "leader-addr"
	// HeaderLegacyLeader is an older spelling of leader-hint some upstream
	// servers use; clients read it too.
	HeaderLegacyLeader = "x-norikv-leader"
)

// NotLeaderPrefix starts the message of every NOT_LEADER reply.
const NotLeaderPrefix = "NOT_LEADER"

// NewNotLeaderError builds the UNAVAILABLE NOT_LEADER error a node returns
// for a request that only the shard's leader may serve. The hint travels in
// the message, in leader-hint / leader-addr metadata and as a NotLeader
// detail, so a client on any protocol can redirect at once.
func NewNotLeaderError(shard uint32, leaderID, leaderAddr string) *connect.Error {
	msg := NotLeaderPrefix + ": this node does not lead shard " + itoa(uint64(shard))
	if leaderID != "" {
		msg += "; leader is " + leaderID + " at " + leaderAddr
	}
	err := connect.NewError(connect.CodeUnavailable, errors.New(msg))
	if leaderID != "" {
		err.Meta().Set(HeaderLeaderHint, leaderID)
		err.Meta().Set(HeaderLeaderAddr, leaderAddr)
	}
	if d, derr := connect.NewErrorDetail(&v1.NotLeader{Shard: shard, LeaderId: leaderID, LeaderAddr: leaderAddr}); derr == nil {
		err.AddDetail(d)
	}
	return err
}

// NotLeaderHint is what a client learns from a NOT_LEADER reply.
type NotLeaderHint struct {
	LeaderID   string // "" if the server did not know
	LeaderAddr string // "" if the server did not say
}

// ParseNotLeader reports whether err is a NOT_LEADER reply and, if so, the
// leader it names. It recognises the contract's UNAVAILABLE "NOT_LEADER",
// and the upstream variants: FAILED_PRECONDITION "Not leader" and the
// x-norikv-leader header. The structured detail wins over metadata.
func ParseNotLeader(err error) (NotLeaderHint, bool) {
	var ce *connect.Error
	if !errors.As(err, &ce) {
		return NotLeaderHint{}, false
	}
	msg := ce.Message()
	isNL := (ce.Code() == connect.CodeUnavailable && strings.HasPrefix(msg, NotLeaderPrefix)) ||
		(ce.Code() == connect.CodeFailedPrecondition && strings.HasPrefix(strings.ToLower(msg), "not leader"))
	if !isNL {
		return NotLeaderHint{}, false
	}
	var h NotLeaderHint
	for _, d := range ce.Details() {
		if m, derr := d.Value(); derr == nil {
			if nl, ok := m.(*v1.NotLeader); ok {
				h.LeaderID, h.LeaderAddr = nl.GetLeaderId(), nl.GetLeaderAddr()
			}
		}
	}
	if h.LeaderID == "" {
		h.LeaderID = firstNonEmpty(ce.Meta().Get(HeaderLeaderHint), ce.Meta().Get(HeaderLegacyLeader))
	}
	if h.LeaderAddr == "" {
		h.LeaderAddr = ce.Meta().Get(HeaderLeaderAddr)
	}
	return h, true
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

func itoa(u uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			return string(b[i:])
		}
	}
}
