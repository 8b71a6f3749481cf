package norikv

import (
	"context"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Put writes value under key and returns the write's Version. Options:
// WithTTL, WithIdempotencyKey, IfMatch (compare-and-swap; a lost race is
// ErrVersionMismatch).
func (c *Client) Put(ctx context.Context, key string, value []byte, opts ...PutOption) (Version, error) {
	cctx, done, err := c.enter(ctx, "Put")
	if err != nil {
		return Version{}, err
	}
	defer done()
	var o putOptions
	if len(opts) > 0 {
		o = collectPutOptions(opts)
	}
	req := &v1.PutRequest{Key: []byte(key), Value: value, TtlMs: o.ttlMs, IdempotencyKey: o.idemKey}
	if o.hasIfMatch {
		req.IfMatch = o.ifMatch.proto()
	}
	res, err := c.kv.Put(cctx, req)
	if err != nil {
		return Version{}, c.callError(ctx, "Put", err)
	}
	return versionFrom(res.GetVersion()), nil
}

// Get reads key. A missing or expired key is ErrKeyNotFound. Option:
// WithConsistency (default lease).
func (c *Client) Get(ctx context.Context, key string, opts ...GetOption) (*GetResult, error) {
	cctx, done, err := c.enter(ctx, "Get")
	if err != nil {
		return nil, err
	}
	defer done()
	var o getOptions
	if len(opts) > 0 {
		o = collectGetOptions(opts)
	}
	res, err := c.kv.Get(cctx, &v1.GetRequest{Key: []byte(key), Consistency: o.consistency.spelling()})
	if err != nil {
		return nil, c.callError(ctx, "Get", err)
	}
	return &GetResult{Value: res.GetValue(), Version: versionFrom(res.GetVersion()), Meta: res.GetMeta()}, nil
}

// Delete removes key. Deleting a missing key succeeds. Options:
// WithIdempotencyKey, IfMatch.
func (c *Client) Delete(ctx context.Context, key string, opts ...DeleteOption) error {
	cctx, done, err := c.enter(ctx, "Delete")
	if err != nil {
		return err
	}
	defer done()
	var o deleteOptions
	if len(opts) > 0 {
		o = collectDeleteOptions(opts)
	}
	req := &v1.DeleteRequest{Key: []byte(key), IdempotencyKey: o.idemKey}
	if o.hasIfMatch {
		req.IfMatch = o.ifMatch.proto()
	}
	if _, err := c.kv.Delete(cctx, req); err != nil {
		return c.callError(ctx, "Delete", err)
	}
	return nil
}

// collectPutOptions, collectGetOptions and collectDeleteOptions apply
// options to a fresh struct. Kept out of the calls' bodies: the options'
// interface methods make the struct escape, and a call without options
// should not pay for that allocation.
func collectPutOptions(opts []PutOption) (o putOptions) {
	for _, opt := range opts {
		opt.applyPut(&o)
	}
	return o
}

func collectGetOptions(opts []GetOption) (o getOptions) {
	for _, opt := range opts {
		opt.applyGet(&o)
	}
	return o
}

func collectDeleteOptions(opts []DeleteOption) (o deleteOptions) {
	for _, opt := range opts {
		opt.applyDelete(&o)
	}
	return o
}
