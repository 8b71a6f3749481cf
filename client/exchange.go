package norikv

// This file is the Kv.Batch exchange: how ops are cut into batches within
// the wire limits, sent to one node, and how each op's result (or the
// reason to send it again alone) is read from the answer. Explicit batches
// (batch.go) and natural batching (batcher.go) both send through here.

import (
	"context"
	"slices"
	"strconv"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/wire"
)

// redoKind is why an op is sent again after its batch.
type redoKind uint8

const (
	redoNone redoKind = iota
	// redoMoved: the node did not apply it (NOT_LEADER, or no Kv.Batch);
	// resent at once, like a followed redirect.
	redoMoved
	// redoRetry: a retryable failure of the op; o.err holds it. Resent as
	// a retry: one budget token and a backoff first.
	redoRetry
	// redoNext: the node did not run it (wire.NotRun): an earlier op on
	// its key was not applied, or the answer was full. Nothing was
	// applied: it goes again, at no cost, behind the ops before it.
	redoNext
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
		if wire.IsNotRun(res.Error) {
			e := interceptors.Convert(ctx, o.name(), err)
			e.Key = string(o.key())
			o.err = e
			return redoNext
		}
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

// exchange sends ops, all for node addr, as one Kv.Batch under ctx and
// sets each op's result, or its redo. An exchange that fails retryably is
// retried as one exchange, as one call would be: one budget token and one
// backoff per retry, within Config.Retry's attempts; each retry routes the
// ops afresh (the node may be gone), one exchange per node. Reads go
// again, and keyed writes (applied once); a write without a key (a cluster
// without client sessions) only if the failure proves it was not applied,
// else it fails with ErrOutcomeUnknown. If the exchange still fails, each
// op keeps the error, to be sent no more.
func (c *Client) exchange(ctx context.Context, addr string, total int, ops []*op) {
	// A batch of many writes to a durable node takes longer than one
	// call: each attempt gets the policy's AttemptTimeout per 250 ops.
	if n := len(ops); n > 250 {
		ctx = interceptors.WithAttemptTimeout(ctx, time.Duration(1+n/250)*c.retry.Policy().AttemptTimeout)
	}
	type part struct {
		addr string
		ops  []*op
	}
	parts := []part{{addr, ops}}
	for attempt := 0; ; attempt++ {
		var failed []*op
		for _, p := range parts {
			if !c.batchable(p.addr) {
				// Learnt meanwhile: they go alone.
				for _, o := range p.ops {
					o.redo = redoMoved
				}
				continue
			}
			if c.sendBatch(ctx, p.addr, total, p.ops) {
				for _, o := range p.ops {
					if o.redo == redoRetry {
						o.redo = redoNone
						failed = append(failed, o)
					}
				}
			}
		}
		if len(failed) == 0 {
			return
		}
		if attempt+1 >= c.retry.Policy().MaxAttempts || !c.retry.AllowRetry(ctx, attempt) {
			if ctx.Err() != nil {
				for _, o := range failed {
					o.err = c.exchangeError(ctx, o, ctx.Err())
				}
			}
			return
		}
		parts = parts[:0]
		at := map[string]int{}
		routes := c.newShardRoutes(total)
		for _, o := range failed {
			a := routes.addr(o)
			i, ok := at[a]
			if !ok {
				i = len(parts)
				at[a] = i
				parts = append(parts, part{addr: a})
			}
			parts[i].ops = append(parts[i].ops, o)
		}
	}
}

// shardRoutes makes one routing decision per shard (and kind of read)
// for the ops of one send. Before the leader is known, or while it is
// suspect, Route spreads calls over the replicas or seeds, and the leader
// it knows can change between two calls; two operations on one key must
// not go to two nodes, or a Get could overtake the Put before it in the
// batch (one node answers NOT_LEADER for the Put, sent again later, while
// another, the leader, serves the Get at once).
type shardRoutes struct {
	c      *Client
	total  int
	routed map[shardRoute]string
}

type shardRoute struct {
	shard  int
	leader bool
}

func (c *Client) newShardRoutes(total int) shardRoutes {
	return shardRoutes{c: c, total: total, routed: map[shardRoute]string{}}
}

// addr is where o goes: where every op of its shard (and kind of read)
// in this send goes.
func (r shardRoutes) addr(o *op) string {
	k := shardRoute{routing.Shard(o.key(), r.total), o.needsLeader()}
	a, ok := r.routed[k]
	if !ok {
		a = r.c.router.Route(k.shard, k.leader)
		r.routed[k] = a
	}
	return a
}

// sendBatch sends ops, all for node addr, as one Kv.Batch under ctx and
// sets each op's result, or redo for those to send again (answered
// NOT_LEADER, with a retryable code, or not run). It reports whether the
// whole exchange failed retryably; then each op holds the exchange's
// error, and redo is redoRetry for the ops that may go again with it. The node's lack of Kv.Batch is learnt here.
func (c *Client) sendBatch(ctx context.Context, addr string, total int, ops []*op) (retry bool) {
	req := &v1.BatchRequest{Ops: make([]*v1.BatchOp, len(ops))}
	for i, o := range ops {
		req.Ops[i] = &o.req
		o.redo, o.err = redoNone, nil
	}
	// Each op earns its budget share once, as its single call would: the
	// retry interceptor deposits one for the exchange, Earn the others'.
	// A retried exchange, or one carrying ops an earlier exchange did
	// not run, earns only for ops not yet counted.
	fresh := 0
	for _, o := range ops {
		if !o.earned {
			o.earned = true
			fresh++
		}
	}
	if fresh == 0 {
		ctx = interceptors.WithEarned(ctx)
	} else {
		c.retry.Earn(fresh - 1)
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
	// exchange retries a failed exchange, routed afresh: the retry
	// interceptor makes one attempt of it.
	res, err = c.batchKV.Batch(interceptors.WithTarget(interceptors.WithOneAttempt(ctx), addr), req)
	if err == nil && len(res.GetResults()) != len(ops) {
		err = interceptors.NewError(connect.CodeInternal, "Kv.Batch: "+strconv.Itoa(len(res.GetResults()))+" results for "+strconv.Itoa(len(ops))+" operations", nil, nil)
	}
	if err != nil {
		unimplemented := connect.CodeOf(err) == connect.CodeUnimplemented
		if unimplemented {
			c.noBatch.Store(addr, struct{}{})
		}
		retry := !unimplemented && interceptors.Retryable(err)
		for _, o := range ops {
			o.err = c.exchangeError(ctx, o, err)
			switch {
			case unimplemented:
				o.redo = redoMoved
			case retry:
				// Reads and keyed writes may go again with the exchange;
				// an unkeyed write only if err proves it was not applied
				// (mayRedo fails it otherwise: outcome unknown).
				o.redo = mayRedo(ctx, o, redoRetry, err)
			}
		}
		return retry
	}
	var got, gets int
	for i, o := range ops {
		o.redo = c.setResult(ctx, o, routing.Shard(o.key(), total), res.Results[i])
		if o.kind == opGet && o.redo == redoNone && o.get != nil {
			got += len(o.get.Value)
			gets++
		}
	}
	if gets > 0 {
		c.learnGetSize(got / gets)
	}
	return false
}

// exchangeError is op o's copy of its exchange's error, naming its key and
// operation.
func (c *Client) exchangeError(ctx context.Context, o *op, err error) error {
	e := *interceptors.Convert(ctx, o.name(), err)
	e.Operation, e.Key = o.name(), string(o.key())
	return &e
}

// learnGetSize folds the mean value size of a batch's reads into the
// estimate fit cuts batches by: half the old estimate, half the new.
func (c *Client) learnGetSize(mean int) {
	c.getSize.Store((c.getSize.Load() + int64(mean)) / 2)
}

// newBatchClient is the client of Kv.Batch. Its chain is the unary one
// without Validate: each operation is checked alone before it is batched
// (checkOp), so one bad key fails only itself, and is not checked twice.
// It does not ask for compressed answers: gzip of a batch of small values
// costs more CPU and latency than it saves (measured: a 100-key MultiGet
// took about twice as long with it on loopback).
func newBatchClient(hc connect.HTTPClient, base string, opts []connect.ClientOption, core, extra []connect.Interceptor) norikvv1connect.KvClient {
	chain := append(core, extra...)
	o := append(slices.Clip(opts),
		connect.WithInterceptors(chain...),
		connect.WithAcceptCompression("gzip", nil, nil))
	return norikvv1connect.NewKvClient(hc, base, o...)
}

// batchable reports whether ops for addr may go as a Kv.Batch.
func (c *Client) batchable(addr string) bool {
	_, no := c.noBatch.Load(addr)
	return !no
}

// answerOverhead is what fit counts for a result besides a read's key and
// value: its version, framing and wrapper.
const answerOverhead = 32

// fit is how many of ops, from the first, go in one Kv.Batch within the
// wire limits (at least one): the request's, and the answer's, estimated
// with getSize bytes per read value. Do's batches and the batcher's queue
// both cut here.
func fit(ops []*op, getSize int) int {
	n, bytes, answer := 0, 0, 0
	for n < len(ops) && n < wire.BatchMaxOps {
		o := ops[n]
		sz := wire.BatchOpBytes(&o.req)
		a := answerOverhead
		if o.kind == opGet {
			a += len(o.key()) + getSize
		}
		if n > 0 && (bytes+sz > wire.BatchMaxBytes || answer+a > wire.BatchMaxAnswerBytes) {
			break
		}
		bytes += sz
		answer += a
		n++
	}
	return n
}
