// Package wire holds the NoriKV wire conventions that the client and the
// embedded server must agree on: consistency spellings, the NOT_LEADER reply
// and its metadata, the idempotency header. See ../shared/CONTRACT.md.
//
// Both sides import this one package so a convention cannot drift between
// them.
package wire

import (
	"errors"
	"strconv"
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

// Metadata keys of a NOT_LEADER reply. The server sets them in the
// response headers and trailers, so every protocol delivers them.
const (
	// HeaderLeaderHint carries the leader's address, host:port: every
	// existing SDK (Go, Python, TypeScript) dials it as such. Clients also
	// accept a node id here (what the Rust server builds, were it sent).
	HeaderLeaderHint = "leader-hint"
	// HeaderLeaderAddr carries the leader's address, host:port.
	HeaderLeaderAddr = "leader-addr"
	// HeaderLeaderID carries the leader's node id.
	HeaderLeaderID = "leader-id"
	// HeaderLegacyLeader and HeaderLegacyLeaderHint are spellings some
	// upstream code uses; clients read them like leader-hint.
	HeaderLegacyLeader     = "x-norikv-leader"
	HeaderLegacyLeaderHint = "x-leader-hint"
)

// NotLeaderPrefix starts the message of every NOT_LEADER reply.
const NotLeaderPrefix = "NOT_LEADER"

// NewNotLeaderError builds the UNAVAILABLE NOT_LEADER error a node returns
// for a request that only the shard's leader may serve. The hint travels in
// the message, in metadata (leader-hint and leader-addr: the address;
// leader-id: the node id) and as a NotLeader detail, so a client on any
// protocol, ours or an upstream SDK, can redirect at once.
func NewNotLeaderError(shard uint32, leaderID, leaderAddr string) *connect.Error {
	msg := NotLeaderPrefix + ": this node does not lead shard " + strconv.FormatUint(uint64(shard), 10)
	if leaderID != "" {
		msg += "; leader is " + leaderID + " at " + leaderAddr
	}
	err := connect.NewError(connect.CodeUnavailable, errors.New(msg))
	if leaderID != "" {
		err.Meta().Set(HeaderLeaderHint, leaderAddr)
		err.Meta().Set(HeaderLeaderAddr, leaderAddr)
		err.Meta().Set(HeaderLeaderID, leaderID)
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
// x-norikv-leader / x-leader-hint headers. The structured detail wins over
// metadata. The hint is only what the reply says: a client must check an
// address against its cluster view or seeds before dialling it.
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
		h.LeaderID = ce.Meta().Get(HeaderLeaderID)
	}
	if h.LeaderAddr == "" {
		h.LeaderAddr = ce.Meta().Get(HeaderLeaderAddr)
	}
	// leader-hint and its legacy spellings may hold either form: an
	// address (host:port, what servers send now) or a node id (what older
	// servers and fakes put there). A node id never contains a colon.
	if hint := firstNonEmpty(ce.Meta().Get(HeaderLeaderHint), ce.Meta().Get(HeaderLegacyLeader), ce.Meta().Get(HeaderLegacyLeaderHint)); hint != "" {
		if strings.Contains(hint, ":") {
			if h.LeaderAddr == "" {
				h.LeaderAddr = hint
			}
		} else if h.LeaderID == "" {
			h.LeaderID = hint
		}
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
