package norikv

// This file is the Kv.Batch exchange: how ops are cut into batches within
// the wire limits, sent to one node, and how each op's result (or the
// reason to send it again alone) is read from the answer. Explicit batches
// (batch.go) and natural batching (batcher.go) both send through here.

import (
	"context"
	"slices"
	"strconv"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/wire"
)

// redoKind is why an op is sent again alone after its batch.
type redoKind uint8

const (
	redoNone redoKind = iota
	// redoMoved: the node did not apply it (NOT_LEADER, or no Kv.Batch);
	// resent at once, like a followed redirect.
	redoMoved
	// redoRetry: a retryable failure (of the op or its exchange); o.err
	// holds it. Resent as a retry: one budget token and a backoff first.
	redoRetry
)

// resend sends o alone after its batch asked for it (o.redo).
func (c *Client) resend(ctx context.Context, o *op) {
	kind := o.redo
	o.redo = redoNone
	if kind == redoRetry && !c.retry.AllowRetry(ctx, 0) {
		if ctx.Err() != nil {
			o.err = ctx.Err()
		}
		return // o.err is the batch's error
	}
	c.unary(ctx, o)
}

// setResult fills o from its result in a batch, or says why o should be
// sent again alone: it was answered NOT_LEADER (the hint is given to the
// router first, so it goes to the leader) or with a retryable error.
func (c *Client) setResult(ctx context.Context, o *op, shard int, r *v1.BatchResult) redoKind {
	switch res := r.GetResult().(type) {
	case *v1.BatchResult_Get:
		if o.kind == opGet {
			if res.Get.GetVersion() == nil {
				o.err = interceptors.KeyNotFound(string(o.key()))
				return redoNone
			}
			o.get = &GetResult{Value: res.Get.GetValue(), Version: versionFrom(res.Get.GetVersion()), Meta: res.Get.GetMeta()}
			return redoNone
		}
	case *v1.BatchResult_Put:
		if o.kind == opPut {
			o.ver = versionFrom(res.Put.GetVersion())
			return redoNone
		}
	case *v1.BatchResult_Delete:
		if o.kind == opDelete {
			o.tombstoned, o.ver = res.Delete.GetTombstoned(), versionFrom(res.Delete.GetVersion())
			return redoNone
		}
	case *v1.BatchResult_Error:
		err := wire.BatchErrorToError(res.Error)
		if _, nl := c.router.NotLeader(shard, err); nl {
			return redoMoved // the router has recorded the hint
		}
		e := interceptors.Convert(ctx, o.name(), err)
		e.Key = string(o.key())
		o.err = e
		if interceptors.Retryable(err) {
			return mayRedo(ctx, o, redoRetry, err)
		}
		return redoNone
	}
	o.err = interceptors.NewError(connect.CodeInternal, "Kv.Batch: result of the wrong kind for "+o.name(), nil, nil)
	return redoNone
}

// sendBatch sends ops, all for node addr, as one Kv.Batch under ctx and
// sets each op's result, or redo for those to send again alone (answered
// NOT_LEADER, or a retryable failure, of the op or the whole exchange).
// The node's lack of Kv.Batch is learnt here.
func (c *Client) sendBatch(ctx context.Context, addr string, total int, ops []*op) {
	req := &v1.BatchRequest{Ops: make([]*v1.BatchOp, len(ops))}
	for i, o := range ops {
		req.Ops[i] = &o.req
	}
	var err error
	if c.obsCalls != nil {
		// The observer sees the exchange as one call of len(ops)
		// operations; its RPC's attempts are the call's.
		if slices.ContainsFunc(ops, func(o *op) bool { return o.stamped }) {
			ctx = interceptors.WithStampedKey(ctx)
		}
		var end func(error)
		ctx, end = interceptors.StartCall(ctx, c.cfg.Observer, norikvv1connect.KvBatchProcedure, len(ops))
		defer func() { end(err) }()
	}
	var res *v1.BatchResponse
	res, err = c.batchKV.Batch(interceptors.WithTarget(ctx, addr), req)
	if err == nil && len(res.GetResults()) != len(ops) {
		err = interceptors.NewError(connect.CodeInternal, "Kv.Batch: "+strconv.Itoa(len(res.GetResults()))+" results for "+strconv.Itoa(len(ops))+" operations", nil, nil)
	}
	if err != nil {
		if connect.CodeOf(err) == connect.CodeUnimplemented {
			c.noBatch.Store(addr, struct{}{})
		}
		// Reads and keyed writes may go again; unkeyed writes only if
		// err proves they were not applied (mayRedo).
		redo := redoNone
		switch {
		case connect.CodeOf(err) == connect.CodeUnimplemented:
			redo = redoMoved
		case interceptors.Retryable(err):
			redo = redoRetry
		}
		for _, o := range ops {
			// One error for the exchange; each op gets its own copy
			// naming its key and operation.
			e := *interceptors.Convert(ctx, o.name(), err)
			e.Operation, e.Key = o.name(), string(o.key())
			o.err = &e
			o.redo = mayRedo(ctx, o, redo, err)
		}
		return
	}
	for i, o := range ops {
		o.redo = c.setResult(ctx, o, routing.Shard(o.key(), total), res.Results[i])
	}
}

// newBatchClient is the client of Kv.Batch. Its chain is the unary one
// without Validate: each operation is checked alone before it is batched
// (checkOp), so one bad key fails only itself, and is not checked twice.
// It does not ask for compressed answers: gzip of a batch of small values
// costs more CPU and latency than it saves (measured: a 100-key MultiGet
// took about twice as long with it on loopback).
func newBatchClient(hc connect.HTTPClient, base string, opts []connect.ClientOption, core, extra []connect.Interceptor) norikvv1connect.KvClient {
	chain := append(core, extra...)
	o := append(opts[:len(opts):len(opts)],
		connect.WithInterceptors(chain...),
		connect.WithAcceptCompression("gzip", nil, nil))
	return norikvv1connect.NewKvClient(hc, base, o...)
}

// batchable reports whether ops for addr may go as a Kv.Batch.
func (c *Client) batchable(addr string) bool {
	_, no := c.noBatch.Load(addr)
	return !no
}

// fit is how many of ops, from the first, go in one Kv.Batch within the
// wire limits (at least one). Do's chunks and the batcher's queue both
// cut here.
func fit(ops []*op) int {
	n, bytes := 0, 0
	for n < len(ops) && n < wire.BatchMaxOps {
		sz := wire.BatchOpBytes(&ops[n].req)
		if n > 0 && bytes+sz > wire.BatchMaxBytes {
			break
		}
		bytes += sz
		n++
	}
	return n
}

// chunks splits ops into batches within the wire limits.
func chunks(ops []*op) [][]*op {
	var out [][]*op
	for len(ops) > 0 {
		n := fit(ops)
		out = append(out, ops[:n])
		ops = ops[n:]
	}
	return out
}
