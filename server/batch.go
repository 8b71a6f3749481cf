package server

import (
	"context"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

// Batch serves a batch of gets, puts and deletes (see BatchRequest). Each
// operation goes through the unary method itself, so it behaves exactly
// as if sent alone: leadership, idempotency replay, if_match and TTL
// included, and its failure is its own result. It is not a transaction.
func (h *kvService) Batch(ctx context.Context, req *v1.BatchRequest) (*v1.BatchResponse, error) {
	if err := wire.CheckBatch(req); err != nil {
		return nil, err
	}
	ops := req.GetOps()
	// One allocation for all the result wrappers.
	results := make([]*v1.BatchResult, len(ops))
	slab := make([]v1.BatchResult, len(ops))
	for i, op := range ops {
		r := &slab[i]
		results[i] = r
		var err error
		switch o := op.GetOp().(type) {
		case *v1.BatchOp_Get:
			var res *v1.GetResponse
			if res, err = h.Get(ctx, o.Get); err == nil {
				r.Result = &v1.BatchResult_Get{Get: res}
			}
		case *v1.BatchOp_Put:
			var res *v1.PutResponse
			if res, err = h.Put(ctx, o.Put); err == nil {
				r.Result = &v1.BatchResult_Put{Put: res}
			}
		case *v1.BatchOp_Delete:
			var res *v1.DeleteResponse
			if res, err = h.Delete(ctx, o.Delete); err == nil {
				r.Result = &v1.BatchResult_Delete{Delete: res}
			}
		default:
			// The schema's oneof rule refuses this first; this covers
			// direct calls.
			err = invalidArgument("ops: an operation must set one of get, put, delete")
		}
		if err != nil {
			r.Result = &v1.BatchResult_Error{Error: wire.BatchErrorOf(err)}
		}
	}
	return &v1.BatchResponse{Results: results}, nil
}
