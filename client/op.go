package norikv

// This file is one operation: the Get, Put or Delete behind a single call
// and each entry of a Batch, its request (built once, idempotency key
// included) and its result, and its unary send through the interceptor
// chain. How a batch carries it is exchange.go; when it travels alone or
// queued is batcher.go.

import (
	"context"
	"time"

	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/validation"
	"github.com/norikv/norikv-go/internal/wire"
)

// opKind is what an op does.
type opKind uint8

const (
	opGet opKind = iota
	opPut
	opDelete
)

// op is one Get, Put or Delete: its request, as sent alone or in a batch,
// and its result. Natural batching (batcher.go) and explicit batches share
// it.
type op struct {
	kind opKind
	get  *GetResult // opGet's result
	req  v1.BatchOp // the request; its oneof holds one of the three below

	getReq v1.BatchOp_Get
	putReq v1.BatchOp_Put
	delReq v1.BatchOp_Delete

	ver        Version
	tombstoned bool
	err        error

	// done is closed when a queued op's result is set (batcher.go).
	done chan struct{}
	// deadline is a queued op's caller's (batcher.go: its batch leaves
	// under the earliest of its ops'), or in a Do the one its exchange
	// was sent under, which its re-send keeps. Zero: none.
	deadline time.Time
	// redo asks for the op to be sent again alone (resend).
	redo redoKind
	// stamped: the client gave this write its idempotency key, session
	// sequence seq (session.go); unkeyed: it goes without a key.
	stamped, unkeyed bool
	seq              uint64
	// earned: the op's share of the retry budget was deposited when it
	// first went in an exchange (sendBatch); a later send of it earns
	// nothing (interceptors.WithEarned).
	earned bool
}

func (o *op) initGet(key string, opts []GetOption) {
	var g getOptions
	if len(opts) > 0 {
		g = collectGetOptions(opts)
	}
	o.kind = opGet
	o.getReq.Get = &v1.GetRequest{Key: []byte(key), Consistency: g.consistency.spelling()}
	o.req.Op = &o.getReq
}

// initPut builds the request, in a message of our own: the client keys
// it before it is first sent (stamp, session.go).
func (o *op) initPut(key string, value []byte, opts []PutOption) {
	var p putOptions
	if len(opts) > 0 {
		p = collectPutOptions(opts)
	}
	o.kind = opPut
	r := &v1.PutRequest{Key: []byte(key), Value: value, TtlMs: p.ttlMs, IdempotencyKey: p.idemKey}
	if p.hasIfMatch {
		r.IfMatch = p.ifMatch.proto()
	}
	o.putReq.Put = r
	o.req.Op = &o.putReq
}

func (o *op) initDelete(key string, opts []DeleteOption) {
	var d deleteOptions
	if len(opts) > 0 {
		d = collectDeleteOptions(opts)
	}
	o.kind = opDelete
	r := &v1.DeleteRequest{Key: []byte(key), IdempotencyKey: d.idemKey}
	if d.hasIfMatch {
		r.IfMatch = d.ifMatch.proto()
	}
	o.delReq.Delete = r
	o.req.Op = &o.delReq
}

func (o *op) key() []byte {
	switch o.kind {
	case opGet:
		return o.getReq.Get.Key
	case opPut:
		return o.putReq.Put.Key
	}
	return o.delReq.Delete.Key
}

func (o *op) name() string {
	switch o.kind {
	case opGet:
		return "Get"
	case opPut:
		return "Put"
	}
	return "Delete"
}

func (o *op) needsLeader() bool {
	if o.kind != opGet {
		return true
	}
	cl, _ := wire.ParseConsistency(o.getReq.Get.Consistency)
	return cl.NeedsLeader()
}

// unary sends o alone through the interceptor chain (validation, retry,
// routing): the path of Client.Get, Put and Delete.
func (c *Client) unary(ctx context.Context, o *op) {
	o.err = nil
	ctx = unaryCtx(ctx, o, c.obsCalls != nil)
	switch o.kind {
	case opGet:
		res, err := c.kv.Get(ctx, o.getReq.Get)
		if err != nil {
			o.err = err
			return
		}
		o.get = &GetResult{Value: res.GetValue(), Version: versionFrom(res.GetVersion()), Meta: res.GetMeta()}
	case opPut:
		res, err := c.kv.Put(ctx, o.putReq.Put)
		if err != nil {
			o.err = err
			return
		}
		o.ver = versionFrom(res.GetVersion())
	case opDelete:
		res, err := c.kv.Delete(ctx, o.delReq.Delete)
		if err != nil {
			o.err = err
			return
		}
		o.tombstoned, o.ver = res.GetTombstoned(), versionFrom(res.GetVersion())
	}
}

// checkOp validates o's request against the schema, as the Validate
// interceptor does for a single call, and sets o.err if it fails.
func checkOp(ctx context.Context, o *op) bool {
	var m proto.Message
	switch o.kind {
	case opGet:
		m = o.getReq.Get
	case opPut:
		m = o.putReq.Put
	default:
		m = o.delReq.Delete
	}
	if verr := validation.Check(m); verr != nil {
		e := interceptors.Convert(ctx, o.name(), verr)
		e.Key = string(o.key())
		o.err = e
		return false
	}
	return true
}

// withTimeout bounds ctx by Config.Timeout from now, unless its deadline is
// earlier: a call's Timeout runs from the moment it is called, through any
// wait in a queue, its batch and its re-sends (which therefore get no
// fresh Timeout from the retry interceptor).
func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	t := c.cfg.timeout()
	if t <= 0 {
		return ctx, func() {}
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= t {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, t)
}

// deadline is when a call made now with ctx must end: Config.Timeout from
// now, or ctx's deadline if earlier (zero: neither).
func (c *Client) deadline(ctx context.Context) time.Time {
	dl, ok := ctx.Deadline()
	if t := c.cfg.timeout(); t > 0 {
		if tdl := time.Now().Add(t); !ok || tdl.Before(dl) {
			return tdl
		}
	}
	return dl
}
