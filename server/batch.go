package server

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

// Batch serves a batch of gets, puts and deletes (see BatchRequest). Each
// operation goes through the unary method itself, so it behaves exactly
// as if sent alone: leadership, idempotency replay, if_match and TTL
// included, and its failure is its own result. It is not a transaction.
//
// Two rules keep a batch from breaking what single calls in order would
// keep. Once an operation on a key fails in a way the client sends it
// again (NOT_LEADER, a retryable code), the later operations on that key
// are not run (wire.NotRun): they go again behind it, in order, rather
// than overtake it. And once the answer carries wire.BatchMaxAnswerBytes
// of values, further reads are not run either, so an answer stays bounded
// however large the values are.
//
// In durable mode the operations of different shards run concurrently
// (on one shard, and so on one key, in order): each write is persisted
// before it is acknowledged, and concurrent writes share bbolt's group
// commit, where one after another each would wait for a commit of its own.
func (h *kvService) Batch(ctx context.Context, req *v1.BatchRequest) (*v1.BatchResponse, error) {
	if err := wire.CheckBatch(req); err != nil {
		return nil, err
	}
	ops := req.GetOps()
	ctx = context.WithValue(ctx, batchOpCtxKey{}, true)
	b := &batchRun{h: h, ctx: ctx, ops: ops, slab: make([]v1.BatchResult, len(ops))}
	if h.c.store == nil || len(ops) < 2 {
		b.run(nil)
	} else {
		b.runByShard()
	}
	// One allocation for all the result wrappers.
	results := make([]*v1.BatchResult, len(ops))
	for i := range results {
		results[i] = &b.slab[i]
	}
	return &v1.BatchResponse{Results: results}, nil
}

// batchOpCtxKey marks the ctx of a Batch's operations: their NOT_LEADER
// hint goes in their BatchError, not the Batch's response headers (route.go).
type batchOpCtxKey struct{}

// batchRun is one Batch call being served.
type batchRun struct {
	h    *kvService
	ctx  context.Context
	ops  []*v1.BatchOp
	slab []v1.BatchResult
	// answered is the value bytes the answer carries so far.
	answered atomic.Int64
}

// runByShard runs each shard's operations in a goroutine of its own. A
// handler that must abort the call (a failed persist) panics; the panic
// is carried back to the handler's goroutine, where the server expects it.
func (b *batchRun) runByShard() {
	c := b.h.c
	byShard := map[*shard][]int{}
	for i, op := range b.ops {
		s := c.shardFor(batchOpKey(op))
		byShard[s] = append(byShard[s], i)
	}
	var (
		wg    sync.WaitGroup
		once  sync.Once
		fault any
	)
	for _, idx := range byShard {
		wg.Go(func() {
			defer func() {
				if p := recover(); p != nil {
					once.Do(func() { fault = p })
				}
			}()
			b.run(idx)
		})
	}
	wg.Wait()
	if fault != nil {
		panic(fault)
	}
}

// run serves the operations at idx, in order (all of them if idx is nil).
// Every operation on one key must be among them.
func (b *batchRun) run(idx []int) {
	var held map[string]bool // keys with an operation to be sent again
	n := len(b.ops)
	if idx != nil {
		n = len(idx)
	}
	for j := range n {
		i := j
		if idx != nil {
			i = idx[j]
		}
		op, r := b.ops[i], &b.slab[i]
		key := batchOpKey(op)
		if held[string(key)] {
			r.Result = &v1.BatchResult_Error{Error: wire.NotRun("an earlier operation on this key in the batch was not applied and is sent again first")}
			continue
		}
		err := b.serve(op, r)
		if err == nil {
			continue
		}
		if be, ok := errors.AsType[notRunError](err); ok {
			r.Result = &v1.BatchResult_Error{Error: be.BatchError}
		} else {
			r.Result = &v1.BatchResult_Error{Error: wire.BatchErrorOf(err)}
			if !wire.BatchResent(connect.CodeOf(err)) {
				continue
			}
		}
		if held == nil {
			held = map[string]bool{}
		}
		held[string(key)] = true
	}
}

// notRunError is an operation the batch did not run.
type notRunError struct{ *v1.BatchError }

func (e notRunError) Error() string { return e.GetMessage() }

// serve runs one operation and sets its result, or returns its error.
func (b *batchRun) serve(op *v1.BatchOp, r *v1.BatchResult) error {
	h, ctx := b.h, b.ctx
	switch o := op.GetOp().(type) {
	case *v1.BatchOp_Get:
		res, err := h.Get(ctx, o.Get)
		if err != nil {
			return err
		}
		if !b.answer(len(res.GetValue()) + len(o.Get.GetKey())) {
			return notRunError{wire.NotRun("the answer reached its size limit")}
		}
		r.Result = &v1.BatchResult_Get{Get: res}
	case *v1.BatchOp_Put:
		res, err := h.Put(ctx, o.Put)
		if err != nil {
			return err
		}
		r.Result = &v1.BatchResult_Put{Put: res}
	case *v1.BatchOp_Delete:
		res, err := h.Delete(ctx, o.Delete)
		if err != nil {
			return err
		}
		r.Result = &v1.BatchResult_Delete{Delete: res}
	default:
		// The schema's oneof rule refuses this first; this covers
		// direct calls.
		return invalidArgument("ops: an operation must set one of get, put, delete")
	}
	return nil
}

// answer adds n bytes of a read to the answer, unless that would take it
// past wire.BatchMaxAnswerBytes; the first read always fits, so every
// batch makes progress.
func (b *batchRun) answer(n int) bool {
	for {
		cur := b.answered.Load()
		if cur > 0 && cur+int64(n) > wire.BatchMaxAnswerBytes {
			return false
		}
		if b.answered.CompareAndSwap(cur, cur+int64(n)) {
			return true
		}
	}
}

// batchOpKey is the key op reads or writes.
func batchOpKey(op *v1.BatchOp) []byte {
	switch o := op.GetOp().(type) {
	case *v1.BatchOp_Get:
		return o.Get.GetKey()
	case *v1.BatchOp_Put:
		return o.Put.GetKey()
	case *v1.BatchOp_Delete:
		return o.Delete.GetKey()
	}
	return nil
}
