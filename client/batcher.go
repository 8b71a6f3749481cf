package norikv

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/norikv/norikv-go/internal/routing"
)

// maxInflightPerNode is how many exchanges (single calls or batches) the
// batcher lets run at once to one node before further calls queue. Two
// keep the node busy while the client handles the previous answer; more
// only make smaller batches (measured in bench/README.md).
const maxInflightPerNode = 2

// batcher is natural batching of single Put, Get and Delete calls. A call
// for a node with fewer than maxInflightPerNode exchanges in flight leaves
// at once, alone, so a lone caller waits for nothing. Otherwise it queues,
// and when an exchange to that node returns, everything queued leaves as
// one Kv.Batch. A queued call whose ctx ends leaves the queue and returns
// at once; Config.Timeout runs from the moment of the call, and a batch
// leaves under the earliest deadline of its calls. Operations the batch
// could not complete (NOT_LEADER, retryable failures, a node without
// Kv.Batch) are sent again alone by their caller, under its own ctx, with
// the usual retries.
type batcher struct {
	c     *Client
	mu    sync.Mutex
	nodes map[string]*nodeQueue
	wg    sync.WaitGroup // batch senders, waited for by Close
}

// nodeQueue is one node's state.
type nodeQueue struct {
	mu       sync.Mutex
	addr     string
	inflight int
	queue    []*op
}

func newBatcher(c *Client) *batcher {
	return &batcher{c: c, nodes: map[string]*nodeQueue{}}
}

func (b *batcher) node(addr string) *nodeQueue {
	b.mu.Lock()
	q := b.nodes[addr]
	if q == nil {
		q = &nodeQueue{addr: addr}
		b.nodes[addr] = q
	}
	b.mu.Unlock()
	return q
}

// run executes o under ctx (the call's, joined to the client's lifetime)
// and returns its error; on nil, o holds the result.
func (c *Client) run(ctx context.Context, o *op) error {
	b := c.batcher
	if b == nil {
		c.unary(ctx, o)
		return o.err
	}
	// Only calls for a known leader are batched: the single call that
	// leaves at once must reach the node the batcher counted it against,
	// and the Routing interceptor sends it there only then. Stale reads,
	// spread over replicas, and calls while the shard count or leader is
	// being learnt go alone, as do all calls while the count is wrong
	// (ShardsErr): Routing refuses them, and a batch would not.
	total := c.router.TotalShards()
	if total == 0 || !o.needsLeader() || c.topo.ShardsErr() != nil {
		c.unary(ctx, o)
		return o.err
	}
	addr, known := c.topo.Leader(routing.Shard(o.key(), total))
	if !known || !c.batchable(addr) {
		c.unary(ctx, o)
		return o.err
	}
	q := b.node(addr)
	q.mu.Lock()
	if q.inflight < maxInflightPerNode {
		return b.alone(ctx, q, total, o)
	}
	q.mu.Unlock()
	// The batch skips the Validate interceptor: check here, so a bad call
	// fails alone, at once; then look again, as an exchange may have ended
	// meanwhile (a call queued with none in flight would wait forever).
	if !checkOp(ctx, o) {
		return o.err
	}
	q.mu.Lock()
	if q.inflight < maxInflightPerNode {
		return b.alone(ctx, q, total, o)
	}
	o.done = make(chan struct{})
	o.deadline = c.deadline(ctx)
	q.queue = append(q.queue, o)
	q.mu.Unlock()
	// No timer for Timeout while queued: the exchanges ahead, all begun
	// earlier, end before its deadline, and its batch leaves under it.
	select {
	case <-o.done:
		if o.redo != redoNone {
			// Under the call's deadline, not a fresh Timeout.
			rctx, cancel := ctx, context.CancelFunc(nil)
			if !o.deadline.IsZero() {
				rctx, cancel = context.WithDeadline(ctx, o.deadline)
			}
			c.resend(rctx, o)
			if cancel != nil {
				cancel()
			}
		}
		return o.err
	case <-ctx.Done():
		q.mu.Lock()
		if i := slices.Index(q.queue, o); i >= 0 {
			q.queue = slices.Delete(q.queue, i, i+1)
		}
		q.mu.Unlock()
		// o may be in a batch in flight, which will write to it: the
		// error goes back without touching o.
		return ctx.Err()
	}
}

// alone sends o by itself as one of q's exchanges in flight. Caller holds
// q.mu, which alone releases.
func (b *batcher) alone(ctx context.Context, q *nodeQueue, total int, o *op) error {
	q.inflight++
	q.mu.Unlock()
	b.c.unary(ctx, o)
	b.release(q, total)
	return o.err
}

// release ends one exchange to q's node: queued operations leave as the
// next batch, in a goroutine of its own so the caller returns at once.
func (b *batcher) release(q *nodeQueue, total int) {
	q.mu.Lock()
	ops := q.take(int(b.c.getSize.Load()))
	if ops == nil {
		q.inflight--
		q.mu.Unlock()
		return
	}
	q.mu.Unlock()
	b.wg.Add(1)
	go b.sendLoop(q, total, ops)
}

// sendLoop sends ops, then whatever queued meanwhile, until the queue is
// empty. A batch serves many calls, each caller's ctx governing only its
// own wait: it runs under the client's ctx, bounded by the earliest
// deadline of its ops, so no call waits past its own.
func (b *batcher) sendLoop(q *nodeQueue, total int, ops []*op) {
	defer b.wg.Done()
	for {
		b.send(q.addr, total, ops)
		for _, o := range ops {
			close(o.done)
		}
		q.mu.Lock()
		ops = q.take(int(b.c.getSize.Load()))
		if ops == nil {
			q.inflight--
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
	}
}

// send sends one batch of queued ops for addr and sets their results or
// redo. Ops the batch's deadline (an earlier op's) cut short, with time of
// their own left, are sent again alone by their callers.
func (b *batcher) send(addr string, total int, ops []*op) {
	c := b.c
	ctx := c.ctx
	var first time.Time
	for _, o := range ops {
		if !o.deadline.IsZero() && (first.IsZero() || o.deadline.Before(first)) {
			first = o.deadline
		}
	}
	if !first.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, first)
		defer cancel()
	}
	c.exchange(ctx, addr, total, ops)
	if ctx.Err() == nil || c.ctx.Err() != nil {
		return
	}
	now := time.Now()
	for _, o := range ops {
		if o.err != nil && o.redo == redoNone && (o.deadline.IsZero() || o.deadline.After(now)) {
			o.redo = redoMoved
		}
	}
}

// take removes the next batch from the queue, within the wire limits, or
// returns nil if it is empty. Caller holds q.mu.
func (q *nodeQueue) take(getSize int) []*op {
	if len(q.queue) == 0 {
		return nil
	}
	n := fit(q.queue, getSize)
	if n == len(q.queue) {
		ops := q.queue
		q.queue = nil
		return ops
	}
	ops := slices.Clone(q.queue[:n])
	q.queue = slices.Delete(q.queue, 0, n)
	return ops
}
