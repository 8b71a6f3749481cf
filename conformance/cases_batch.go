package conformance

import (
	"fmt"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Kv.Batch is an addition to the contract: a target without it (the Rust
// server) answers UNIMPLEMENTED, which is reported as a skip, not a
// failure.
func batchCases() []caseDef {
	return []caseDef{{name: "batch", run: caseBatch}}
}

func (c *cell) batch(route []byte, req *v1.BatchRequest) (resp *v1.BatchResponse, err error) {
	err = c.routed(route, func(cl *clients) error {
		resp, err = cl.kv.Batch(c.ctx, req)
		return err
	})
	return resp, err
}

// caseBatch: one batch to a shard's leader mixes a put, a failing CAS, a
// read of the put, a read of a missing key and a delete. Each operation
// gets its own result in order, and the CAS failure fails only itself.
// An empty batch is INVALID_ARGUMENT.
func caseBatch(c *cell) error {
	keys, _ := c.keysOnShard("batch", 3)
	if keys == nil {
		keys = [][]byte{c.key("batch-0"), c.key("batch-1"), c.key("batch-2")}
	}
	for _, k := range keys {
		c.cleanupKey(k)
	}
	old, err := c.mustPut(keys[1], []byte("old"))
	if err != nil {
		return err
	}
	stale := &v1.Version{Term: old.GetTerm(), Index: old.GetIndex() + 1000}
	res, err := c.batch(keys[0], &v1.BatchRequest{Ops: []*v1.BatchOp{
		{Op: &v1.BatchOp_Put{Put: &v1.PutRequest{Key: keys[0], Value: []byte("v0")}}},
		{Op: &v1.BatchOp_Put{Put: &v1.PutRequest{Key: keys[1], Value: []byte("cas"), IfMatch: stale}}},
		{Op: &v1.BatchOp_Get{Get: &v1.GetRequest{Key: keys[0]}}},
		{Op: &v1.BatchOp_Get{Get: &v1.GetRequest{Key: keys[2]}}},
		{Op: &v1.BatchOp_Get{Get: &v1.GetRequest{Key: keys[1]}}},
		{Op: &v1.BatchOp_Delete{Delete: &v1.DeleteRequest{Key: keys[0]}}},
	}})
	if isUnimplemented(err) {
		return skipf("the target does not serve Kv.Batch (UNIMPLEMENTED): clients fall back to unary calls")
	}
	if err != nil {
		return fmt.Errorf("batch: %s", describe(err))
	}
	var p problems
	r := res.GetResults()
	if len(r) != 6 {
		return fmt.Errorf("batch of 6 operations: %d results", len(r))
	}
	put := r[0].GetPut().GetVersion()
	if put == nil {
		p.addf("batched put: %v, want a version", r[0])
	}
	if e := r[1].GetError(); e == nil || connect.Code(e.GetCode()) != connect.CodeFailedPrecondition {
		p.addf("batched put with a stale if_match: %v, want its own FAILED_PRECONDITION", r[1])
	}
	if g := r[2].GetGet(); string(g.GetValue()) != "v0" || g.GetVersion().GetIndex() != put.GetIndex() || g.GetVersion().GetTerm() != put.GetTerm() {
		p.addf("batched get after a batched put: %v, want v0 at %v", r[2], put)
	}
	if g := r[3].GetGet(); g == nil || g.GetVersion() != nil {
		p.addf("batched get of a missing key: %v, want OK without a version", r[3])
	}
	if g := r[4].GetGet(); string(g.GetValue()) != "old" {
		p.addf("batched get after the failed CAS: %v, want the old value", r[4])
	}
	if d := r[5].GetDelete(); !d.GetTombstoned() {
		p.addf("batched delete of a live key: %v, want tombstoned", r[5])
	}
	_, err = c.batch(keys[0], &v1.BatchRequest{})
	p.add(wantCode(err, connect.CodeInvalidArgument, "empty batch"))
	return p.err()
}
