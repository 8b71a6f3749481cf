package conformance

import (
	"bytes"
	"context"
	"fmt"
	"math"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// The documented limits (proto/norikv/v1, CONTRACT.md "Limits").
const (
	maxKey       = 1024
	maxValue     = 1 << 20
	maxNamespace = 256
	maxVectorID  = 512
	maxDims      = 4096
	maxK         = 1024
	maxIdemKey   = 256
	maxTTLMs     = 315360000000 // 10 years
)

func limitCases() []caseDef {
	return []caseDef{
		{name: "limits_kv", run: caseLimitsKV},
		{name: "limits_vector", run: caseLimitsVector},
	}
}

// padKey returns a key of exactly n bytes that starts with the cell's tag
// (when it fits), so even boundary keys stay inside the run's prefix.
func (c *cell) padKey(name string, n int) []byte {
	k := c.key(name)
	if len(k) > n {
		k = k[:0]
	}
	return append(k, bytes.Repeat([]byte{'x'}, n-len(k))...)
}

// caseLimitsKV: each limit is checked on both sides of its boundary. The
// requests are routed to the key's leader so a server that checks
// leadership before validation still answers about the limit.
func caseLimitsKV(c *cell) error {
	var p problems
	invalid := func(err error, what string) { p.add(wantCode(err, connect.CodeInvalidArgument, what)) }

	_, err := c.put(&v1.PutRequest{Key: nil, Value: []byte("v")})
	invalid(err, "put with a 0-byte key")
	_, err = c.get(&v1.GetRequest{Key: nil})
	invalid(err, "get with a 0-byte key")
	_, err = c.del(&v1.DeleteRequest{Key: nil})
	invalid(err, "delete with a 0-byte key")

	long := c.padKey("long", maxKey+1)
	c.cleanupKey(long[:maxKey]) // in case the 1025-byte put was truncated and stored
	_, err = c.put(&v1.PutRequest{Key: long, Value: []byte("v")})
	invalid(err, "put with a 1025-byte key")
	_, err = c.get(&v1.GetRequest{Key: long})
	invalid(err, "get with a 1025-byte key")
	_, err = c.del(&v1.DeleteRequest{Key: long})
	invalid(err, "delete with a 1025-byte key")

	longest := c.padKey("max", maxKey)
	c.cleanupKey(longest)
	_, err = c.put(&v1.PutRequest{Key: longest, Value: []byte("v")})
	p.add(wantOK(err, "put with a 1024-byte key"))
	if err == nil {
		g, err := c.get(&v1.GetRequest{Key: longest})
		p.add(wantOK(err, "get with a 1024-byte key"))
		if err == nil && string(g.GetValue()) != "v" {
			p.addf("get with a 1024-byte key: value %q, want \"v\"", g.GetValue())
		}
	}

	big := c.key("big")
	c.cleanupKey(big)
	val := bytes.Repeat([]byte{0xA5}, maxValue)
	_, err = c.put(&v1.PutRequest{Key: big, Value: val})
	p.add(wantOK(err, "put with a 1 MiB value"))
	if err == nil {
		g, err := c.get(&v1.GetRequest{Key: big})
		if err != nil || !bytes.Equal(g.GetValue(), val) {
			p.addf("get of a 1 MiB value: want it back intact, got %s (%d bytes)", describe(err), len(g.GetValue()))
		}
	}
	over := c.key("over")
	c.cleanupKey(over)
	_, err = c.put(&v1.PutRequest{Key: over, Value: append(val, 0)})
	// A body cap in front of validation may answer RESOURCE_EXHAUSTED
	// first; either is a refusal, OK is not.
	if code := connect.CodeOf(err); err == nil || (code != connect.CodeInvalidArgument && code != connect.CodeResourceExhausted) {
		p.addf("put with a 1 MiB + 1 byte value: want INVALID_ARGUMENT (or RESOURCE_EXHAUSTED), got %s", describe(err))
	}

	ik := c.key("ik")
	c.cleanupKey(ik)
	_, err = c.put(&v1.PutRequest{Key: ik, Value: []byte("v"), IdempotencyKey: string(c.padKey("idem-ok", maxIdemKey))})
	p.add(wantOK(err, "put with a 256-byte idempotency_key"))
	_, err = c.put(&v1.PutRequest{Key: ik, Value: []byte("v"), IdempotencyKey: string(c.padKey("idem-long", maxIdemKey+1))})
	invalid(err, "put with a 257-byte idempotency_key")
	_, err = c.del(&v1.DeleteRequest{Key: ik, IdempotencyKey: string(c.padKey("idem-del", maxIdemKey+1))})
	invalid(err, "delete with a 257-byte idempotency_key")

	ttlk := c.key("ttl")
	c.cleanupKey(ttlk)
	_, err = c.put(&v1.PutRequest{Key: ttlk, Value: []byte("v"), TtlMs: maxTTLMs})
	p.add(wantOK(err, "put with ttl_ms = 10 years"))
	_, err = c.put(&v1.PutRequest{Key: ttlk, Value: []byte("v"), TtlMs: maxTTLMs + 1})
	invalid(err, "put with ttl_ms = 10 years + 1 ms")
	return p.err()
}

// caseLimitsVector: namespace, id, dimensions, k and finiteness limits.
func caseLimitsVector(c *cell) error {
	ns := c.ns("lim")
	created, err := c.createIndex(&v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: 2,
		Distance: v1.DistanceFunction_DISTANCE_FUNCTION_EUCLIDEAN, IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_BRUTE_FORCE})
	if isUnimplemented(err) {
		return skipVector()
	}
	if err != nil || !created {
		return fmt.Errorf("create index: want created, got %s created=%v", describe(err), created)
	}
	var p problems
	invalid := func(err error, what string) { p.add(wantCode(err, connect.CodeInvalidArgument, what)) }
	okay := func(err error, what string) { p.add(wantOK(err, what)) }
	create := func(ns string, dims uint32) error {
		_, err := c.createIndex(&v1.CreateVectorIndexRequest{Namespace: ns, Dimensions: dims,
			Distance: v1.DistanceFunction_DISTANCE_FUNCTION_EUCLIDEAN, IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_BRUTE_FORCE})
		return err
	}

	invalid(create("", 2), "create index with a 0-byte namespace")
	invalid(create(string(c.padKey("ns-long", maxNamespace+1)), 2), "create index with a 257-byte namespace")
	okay(create(string(c.padKey("ns-max", maxNamespace)), 2), "create index with a 256-byte namespace")
	invalid(create(c.ns("d0"), 0), "create index with 0 dimensions")
	invalid(create(c.ns("d4097"), maxDims+1), "create index with 4097 dimensions")
	okay(create(c.ns("d4096"), maxDims), "create index with 4096 dimensions")
	_, err = c.createIndex(&v1.CreateVectorIndexRequest{Namespace: c.ns("nodist"), Dimensions: 2,
		IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_BRUTE_FORCE})
	invalid(err, "create index with an unspecified distance function")
	_, err = c.createIndex(&v1.CreateVectorIndexRequest{Namespace: c.ns("notype"), Dimensions: 2,
		Distance: v1.DistanceFunction_DISTANCE_FUNCTION_COSINE})
	invalid(err, "create index with an unspecified index type")

	insert := func(id string, vec []float32) error {
		_, err := c.vinsert(&v1.VectorInsertRequest{Namespace: ns, Id: id, Vector: vec})
		return err
	}
	invalid(insert("", []float32{1, 2}), "insert with a 0-byte id")
	invalid(insert(string(c.padKey("id-long", maxVectorID+1)), []float32{1, 2}), "insert with a 513-byte id")
	okay(insert(string(c.padKey("id-max", maxVectorID)), []float32{1, 2}), "insert with a 512-byte id")
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	invalid(insert("nan", []float32{nan, 1}), "insert with a NaN component")
	invalid(insert("inf", []float32{1, inf}), "insert with a +Inf component")
	invalid(insert("ninf", []float32{-inf, 1}), "insert with a -Inf component")

	search := func(q []float32, k uint32) error {
		_, err := c.vsearch(&v1.VectorSearchRequest{Namespace: ns, Query: q, K: k})
		return err
	}
	invalid(search([]float32{1, 2}, 0), "search with k = 0")
	invalid(search([]float32{1, 2}, maxK+1), "search with k = 1025")
	okay(search([]float32{1, 2}, maxK), "search with k = 1024")
	invalid(search([]float32{nan, 2}, 1), "search with a NaN query component")
	invalid(search([]float32{1, -inf}, 1), "search with a -Inf query component")
	_, err = c.vget(&v1.VectorGetRequest{Namespace: ns, Id: string(c.padKey("get-long", maxVectorID+1))})
	invalid(err, "get with a 513-byte id")
	return p.err()
}

// createIndex creates an index and schedules its drop; it reports whether
// the call created it.
func (c *cell) createIndex(req *v1.CreateVectorIndexRequest) (bool, error) {
	var resp *v1.CreateVectorIndexResponse
	err := c.routed([]byte(req.GetNamespace()), func(cl *clients) (err error) {
		resp, err = cl.vector.CreateIndex(c.ctx, req)
		return err
	})
	if err == nil {
		ns := req.GetNamespace()
		c.onCleanup(func(ctx context.Context) {
			cc := *c
			cc.ctx = ctx
			_, _ = cc.vdrop(&v1.DropVectorIndexRequest{Namespace: ns})
		})
	}
	return resp.GetCreated(), err
}
