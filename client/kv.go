package norikv

import (
	"context"
)

// Put writes value under key and returns the write's Version. Options:
// WithTTL, WithIdempotencyKey, IfMatch (compare-and-swap; a lost race is
// ErrVersionMismatch). Concurrent calls may travel together in one
// Kv.Batch (Config.DisableAutoBatch); each is still applied on its own.
func (c *Client) Put(ctx context.Context, key string, value []byte, opts ...PutOption) (Version, error) {
	cctx, done, err := c.enter(ctx, "Put")
	if err != nil {
		return Version{}, err
	}
	defer done()
	o := &op{}
	o.initPut(key, value, opts)
	c.stamp(o)
	defer c.unstamp(o)
	if err := c.run(cctx, o); err != nil {
		return Version{}, c.callError(ctx, "Put", err)
	}
	return o.ver, nil
}

// Get reads key. A missing or expired key is ErrKeyNotFound. Options:
// WithConsistency (default lease); WithHedging, for a stale_ok read (see
// Config.StaleReads).
func (c *Client) Get(ctx context.Context, key string, opts ...GetOption) (*GetResult, error) {
	cctx, done, err := c.enter(ctx, "Get")
	if err != nil {
		return nil, err
	}
	defer done()
	o := &op{}
	o.initGet(key, opts)
	if c.hedgeWanted(o, opts) {
		err = c.getHedged(cctx, o) // hedge.go
	} else {
		err = c.run(cctx, o)
	}
	if err != nil {
		return nil, c.callError(ctx, "Get", err)
	}
	return o.get, nil
}

// Delete removes key. Deleting a missing key succeeds. Options:
// WithIdempotencyKey, IfMatch.
func (c *Client) Delete(ctx context.Context, key string, opts ...DeleteOption) error {
	cctx, done, err := c.enter(ctx, "Delete")
	if err != nil {
		return err
	}
	defer done()
	o := &op{}
	o.initDelete(key, opts)
	c.stamp(o)
	defer c.unstamp(o)
	if err := c.run(cctx, o); err != nil {
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
