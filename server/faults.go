package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

// This file holds the test hooks: faults injected into calls, and defects
// that make the server deviate from the contract the way real servers have.
// They exist so client and suite tests run against this one server instead
// of fakes of their own; a new fault goes here (a sentinel or a Defects
// switch), never into a second server. None of them is reachable from
// "norikv serve": a cluster a developer runs keeps the contract. Serving
// fewer transports, as the production server does, is not a defect but a
// serving mode, Config.GRPCOnly (grpconly.go), which "serve" offers.

// FaultHook runs before a node serves a unary call: node is the node's id
// ("n1"), procedure the full RPC name (norikvv1connect.KvPutProcedure) and
// req the decoded request message (*v1.PutRequest, ...), not to be
// modified. It runs before the token and schema checks and before routing,
// so it sees every call a node receives.
//
// Returning nil serves the call. Returning an error answers it instead
// (a *connect.Error keeps its code and metadata; wire.NewNotLeaderError
// makes a redirect). [AfterApply] wraps an error to serve the call first
// (a write is applied) and then answer the error, as when a reply is lost;
// [ErrCloseConnection] aborts the call, closing an HTTP/1.1 connection or
// resetting an HTTP/2 stream. To delay a call, sleep in the hook (honouring
// ctx); to hold it, block on a channel. The hook may be called from many
// goroutines at once.
type FaultHook func(ctx context.Context, node, procedure string, req any) error

// DelayCalls returns a [FaultHook] that makes every call wait
// delay(node, procedure) first (0: no wait), as a slow or overloaded node
// would, then hands it to next (nil: serves it). A call whose ctx ends
// while it waits fails with the ctx's error. It is the one slow-node
// mechanism: the console's SetNodeDelay control installs it too.
func DelayCalls(delay func(node, procedure string) time.Duration, next FaultHook) FaultHook {
	return func(ctx context.Context, node, procedure string, req any) error {
		if d := delay(node, procedure); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
				code := connect.CodeCanceled
				if errors.Is(ctx.Err(), context.DeadlineExceeded) {
					code = connect.CodeDeadlineExceeded
				}
				return connect.NewError(code, ctx.Err())
			}
		}
		if next != nil {
			return next(ctx, node, procedure, req)
		}
		return nil
	}
}

// ErrCloseConnection is what a [FaultHook] returns (alone or inside
// [AfterApply]) to abort the call without a response: the client sees the
// connection (HTTP/1.1) or stream (HTTP/2) fail.
var ErrCloseConnection = errors.New("server: fault: close the connection")

// AfterApply makes a [FaultHook]'s answer come after the call is served:
// the write is applied and remembered (with its idempotency key), and the
// client gets err (or, for [ErrCloseConnection], a broken connection)
// instead of the response. If serving fails, that error is answered.
func AfterApply(err error) error { return &afterApply{err} }

type afterApply struct{ err error }

func (a *afterApply) Error() string { return "server: fault after apply: " + a.err.Error() }
func (a *afterApply) Unwrap() error { return a.err }

// Defects make the server deviate from the contract in the ways real
// servers are known to, one switch per deviation, so tests of clients and
// of the conformance suite can check that each is handled or named. The
// zero value is a conforming server. They are for tests only: "norikv
// serve" has no flag for them.
type Defects struct {
	// MissingKeyNotFound answers Get of a missing key with NOT_FOUND, as
	// older servers did, instead of OK with no version.
	MissingKeyNotFound bool
	// LeaderHintNodeID puts the leader's node id in leader-hint and sends
	// no leader-id, as older servers did (the detail is unchanged).
	LeaderHintNodeID bool
	// NoLeaderHint answers NOT_LEADER with no hint at all: no headers, no
	// detail.
	NoLeaderHint bool
	// ForeignLeaderHint, if set, is the address NOT_LEADER names (in
	// leader-hint, leader-addr and the detail) instead of the leader's;
	// the node id stays right.
	ForeignLeaderHint string
	// IgnoreDeleteIfMatch accepts if_match on Delete and deletes anyway.
	IgnoreDeleteIfMatch bool
	// IgnoreIdempotency applies every write again, key or not.
	IgnoreIdempotency bool
	// IdempotencyIgnoresRequest answers a reused idempotency key with the
	// first result whatever the request, instead of INVALID_ARGUMENT.
	IdempotencyIgnoresRequest bool
	// NoMeta makes Meta (WatchCluster) and Vector answer UNIMPLEMENTED,
	// like servers without them.
	NoMeta bool
	// NoVector makes Vector answer UNIMPLEMENTED.
	NoVector bool
	// NoBatch makes Kv.Batch answer UNIMPLEMENTED, as servers without it
	// (the Rust server today) do: for testing clients' fallback.
	NoBatch bool
	// NoSessions makes the server one without client sessions, as the
	// Rust server is: its views do not announce the capability
	// (wire.SessionCapability) and a session-form key is an opaque key
	// in the TTL cache.
	NoSessions bool
}

var noDefects Defects

// defects returns the switches in force; the zero Defects if none.
func (c *Cluster) defects() *Defects {
	if d := c.defect.Load(); d != nil {
		return d
	}
	return &noDefects
}

// SetDefects replaces the defect switches (initially Config.Defects). Calls
// already being served may see either set. A change of NoSessions
// publishes a new view, which announces the capability or not. For tests.
func (c *Cluster) SetDefects(d Defects) {
	was := c.defects().NoSessions
	c.defect.Store(&d)
	if d.NoSessions != was {
		c.topoMu.Lock()
		c.publishLocked()
		c.topoMu.Unlock()
	}
}

// SetFaults installs hook on every node, replacing Config.Faults or the
// previous one; nil removes it. For tests.
func (c *Cluster) SetFaults(hook FaultHook) {
	if hook == nil {
		c.faults.Store(nil)
		return
	}
	c.faults.Store(&hook)
}

// Calls returns how many unary calls node id has received (served, refused
// or faulted alike), 0 for an unknown node. WatchCluster streams are not
// calls; see [Cluster.Watches].
func (c *Cluster) Calls(id string) int64 {
	if n := c.byID[id]; n != nil {
		return n.calls.Load()
	}
	return 0
}

// Watches returns how many WatchCluster streams the nodes have opened.
func (c *Cluster) Watches() int64 { return c.watches.Load() }

// Epoch returns the epoch of the current view.
func (c *Cluster) Epoch() uint64 {
	c.topoMu.Lock()
	defer c.topoMu.Unlock()
	return c.epoch
}

// idemTerms applies the idempotency defects to a write's key and request
// fingerprint.
func (c *Cluster) idemTerms(key string, fp uint64) (string, uint64) {
	d := c.defects()
	switch {
	case d.IgnoreIdempotency:
		return "", 0
	case d.IdempotencyIgnoresRequest:
		return key, 0
	}
	return key, fp
}

// unimplemented is the NoMeta, NoVector and NoBatch defects' answer to procedure,
// or nil. Without defects it costs one atomic load.
func (c *Cluster) unimplemented(procedure string) error {
	d := c.defect.Load()
	if d == nil || !d.NoMeta && !d.NoVector && !d.NoBatch {
		return nil
	}
	if d.NoBatch && procedure == norikvv1connect.KvBatchProcedure {
		return connect.NewError(connect.CodeUnimplemented, errors.New(procedure+" is not implemented"))
	}
	meta := strings.HasPrefix(procedure, "/"+norikvv1connect.MetaName+"/")
	vec := strings.HasPrefix(procedure, "/"+norikvv1connect.VectorName+"/")
	if (d.NoMeta && (meta || vec)) || (d.NoVector && vec) {
		return connect.NewError(connect.CodeUnimplemented, errors.New(procedure+" is not implemented"))
	}
	return nil
}

// faultInterceptor counts a node's calls and applies the fault hook and
// the service defects. It is the outermost interceptor.
type faultInterceptor struct{ n *node }

func (f *faultInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		n := f.n
		n.calls.Add(1)
		proc := req.Spec().Procedure
		if err := n.c.unimplemented(proc); err != nil {
			return nil, err
		}
		hook := n.c.faults.Load()
		if hook == nil {
			return next(ctx, req)
		}
		err := (*hook)(ctx, n.id, proc, req.Any())
		if err == nil {
			return next(ctx, req)
		}
		if a, ok := errors.AsType[*afterApply](err); ok {
			resp, serr := next(ctx, req)
			if serr != nil {
				return resp, serr
			}
			err = a.err
		}
		if errors.Is(err, ErrCloseConnection) {
			// net/http closes the connection (or resets the stream) and
			// logs nothing; connect's recover passes it on.
			panic(http.ErrAbortHandler)
		}
		return nil, err
	}
}

func (f *faultInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (f *faultInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		proc := conn.Spec().Procedure
		if proc == norikvv1connect.MetaWatchClusterProcedure {
			f.n.c.watches.Add(1)
		}
		if err := f.n.c.unimplemented(proc); err != nil {
			return err
		}
		return next(ctx, conn)
	}
}
