package norikv

import (
	"context"
	"strconv"
	"strings"
	"sync"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/interceptors"
)

// Batch collects gets, puts and deletes for Client.Do, which sends them in
// as few exchanges as it can: one Kv.Batch per node, concurrently. It is
// not a transaction: each operation succeeds or fails on its own, exactly
// as the matching Get, Put or Delete would, and operations on different
// keys may be applied in any order (on one key, in the order added). A
// Batch is used once; it is not safe for concurrent use.
//
// Why a builder rather than only MultiGet and friends: one exchange can
// then mix reads and writes, and each write keeps its own options (IfMatch,
// WithTTL, WithIdempotencyKey). MultiGet, MultiPut and MultiDelete are
// shorthands over it.
type Batch struct {
	ops  []*op
	used bool
}

// BatchGet is a Get added to a Batch; its result is set when Do returns.
type BatchGet struct{ o op }

// Result returns the Get's result, as Client.Get would: a missing key is
// ErrKeyNotFound.
func (g *BatchGet) Result() (*GetResult, error) { return g.o.get, g.o.err }

// BatchPut is a Put added to a Batch; its result is set when Do returns.
type BatchPut struct{ o op }

// Result returns the Put's version or error, as Client.Put would.
func (p *BatchPut) Result() (Version, error) { return p.o.ver, p.o.err }

// BatchDelete is a Delete added to a Batch; its result is set when Do
// returns.
type BatchDelete struct{ o op }

// Result returns the Delete's error, as Client.Delete would, and whether a
// live key was removed.
func (d *BatchDelete) Result() (tombstoned bool, err error) { return d.o.tombstoned, d.o.err }

// Get adds a read of key. Option: WithConsistency.
func (b *Batch) Get(key string, opts ...GetOption) *BatchGet {
	g := &BatchGet{}
	g.o.initGet(key, opts)
	b.ops = append(b.ops, &g.o)
	return g
}

// Put adds a write of value under key. Options: WithTTL,
// WithIdempotencyKey, IfMatch.
func (b *Batch) Put(key string, value []byte, opts ...PutOption) *BatchPut {
	p := &BatchPut{}
	p.o.initPut(key, value, opts)
	b.ops = append(b.ops, &p.o)
	return p
}

// Delete adds a delete of key. Options: WithIdempotencyKey, IfMatch.
func (b *Batch) Delete(key string, opts ...DeleteOption) *BatchDelete {
	d := &BatchDelete{}
	d.o.initDelete(key, opts)
	b.ops = append(b.ops, &d.o)
	return d
}

// Len is the number of operations added.
func (b *Batch) Len() int { return len(b.ops) }

// BatchError is the error of Do, MultiGet, MultiPut and MultiDelete when
// some operations failed. Errs is indexed like the operations (or keys);
// a nil entry succeeded. errors.Is and errors.As look at every failed
// operation's error, so errors.Is(err, ErrKeyNotFound) says whether any
// key was missing; test Errs[i] for one key.
type BatchError struct {
	Errs []error
}

func (e *BatchError) Error() string {
	var b strings.Builder
	n, first := 0, error(nil)
	for _, err := range e.Errs {
		if err != nil {
			if n == 0 {
				first = err
			}
			n++
		}
	}
	b.WriteString(strconv.Itoa(n))
	b.WriteString(" of ")
	b.WriteString(strconv.Itoa(len(e.Errs)))
	b.WriteString(" operations failed")
	if first != nil {
		b.WriteString("; first: ")
		b.WriteString(first.Error())
	}
	return b.String()
}

// Unwrap returns the failed operations' errors.
func (e *BatchError) Unwrap() []error {
	out := make([]error, 0, len(e.Errs))
	for _, err := range e.Errs {
		if err != nil {
			out = append(out, err)
		}
	}
	return out
}

// Do sends every operation of b and sets their results. It returns nil if
// all succeeded, else a *BatchError (see it for the per-operation errors).
// Operations go to their shard's leader (stale_ok reads to any replica),
// grouped into one Kv.Batch per node (or several, one after another, cut
// by the request and answer limits), nodes concurrently. An exchange that
// fails retryably is retried whole, as one call is, within Config.Retry.
// Writes get automatic idempotency keys only from a cluster that announces
// client sessions (see WithIdempotencyKey); reads and keyed writes are
// safe to repeat, and a write without a key is sent again only after a
// failure that proves it was not applied, and otherwise fails with
// ErrOutcomeUnknown. Operations answered NOT_LEADER or with a retryable
// code are retried as single calls, re-routed, within Config.Retry, and
// the later operations on their keys follow them, in order. Config.Timeout
// bounds each exchange and the retries of its operations. A node that
// does not serve Kv.Batch (UNIMPLEMENTED, e.g. the Rust server) is
// remembered, and its operations are sent as single calls from then on.
func (c *Client) Do(ctx context.Context, b *Batch) error {
	if b.used {
		return invalidBatch("Do", "the Batch was already sent: build a new one")
	}
	b.used = true
	return c.do(ctx, "Batch", b.ops)
}

// MultiGet reads keys; results[i] is keys[i]'s, nil if it failed. It
// returns nil if every key was read, else a *BatchError whose Errs[i] is
// keys[i]'s error: a missing key is ErrKeyNotFound there, as on Get.
// Options apply to every read. See Do for how the reads are sent.
func (c *Client) MultiGet(ctx context.Context, keys []string, opts ...GetOption) ([]*GetResult, error) {
	ops := make([]op, len(keys))
	ptrs := make([]*op, len(keys))
	for i, k := range keys {
		ops[i].initGet(k, opts)
		ptrs[i] = &ops[i]
	}
	err := c.do(ctx, "MultiGet", ptrs)
	out := make([]*GetResult, len(keys))
	for i := range ops {
		out[i] = ops[i].get
	}
	return out, err
}

// KeyValue is one write of MultiPut.
type KeyValue struct {
	Key   string
	Value []byte
}

// MultiPut writes every pair; versions[i] is kvs[i]'s. It returns nil if
// every write succeeded, else a *BatchError indexed like kvs. Options
// apply to every write: WithTTL only; IfMatch and WithIdempotencyKey
// concern one write, so give them to Batch.Put (here they are
// INVALID_ARGUMENT).
func (c *Client) MultiPut(ctx context.Context, kvs []KeyValue, opts ...PutOption) ([]Version, error) {
	if o := collectPutOptions(opts); o.hasIfMatch || o.idemKey != "" {
		return nil, invalidBatch("MultiPut", "IfMatch and WithIdempotencyKey name one write: use Batch.Put")
	}
	ops := make([]op, len(kvs))
	ptrs := make([]*op, len(kvs))
	for i, kv := range kvs {
		ops[i].initPut(kv.Key, kv.Value, opts)
		ptrs[i] = &ops[i]
	}
	err := c.do(ctx, "MultiPut", ptrs)
	out := make([]Version, len(kvs))
	for i := range ops {
		out[i] = ops[i].ver
	}
	return out, err
}

// MultiDelete removes keys. It returns nil if every delete succeeded, else
// a *BatchError indexed like keys. IfMatch and WithIdempotencyKey concern
// one delete: give them to Batch.Delete (here they are INVALID_ARGUMENT).
func (c *Client) MultiDelete(ctx context.Context, keys []string, opts ...DeleteOption) error {
	if o := collectDeleteOptions(opts); o.hasIfMatch || o.idemKey != "" {
		return invalidBatch("MultiDelete", "IfMatch and WithIdempotencyKey name one delete: use Batch.Delete")
	}
	ops := make([]op, len(keys))
	ptrs := make([]*op, len(keys))
	for i, k := range keys {
		ops[i].initDelete(k, opts)
		ptrs[i] = &ops[i]
	}
	return c.do(ctx, "MultiDelete", ptrs)
}

func invalidBatch(operation, msg string) error {
	e := interceptors.NewError(connect.CodeInvalidArgument, msg, nil, nil)
	e.Operation = operation
	return e
}

// maxUnaryFanout bounds the single calls one Do runs at once (operations
// for nodes without Kv.Batch, and retries), so a large batch against an
// old server does not open a connection per key.
const maxUnaryFanout = 32

// do runs ops: one Kv.Batch per node (and per chunk), concurrently, then
// the ops to send again alone. Invalid ops fail alone before anything is
// sent. Config.Timeout bounds each exchange, its retries included, and
// the re-sends of its ops: a large Do is many exchanges, and is bounded
// as a whole by ctx.
func (c *Client) do(ctx context.Context, operation string, ops []*op) error {
	cctx, done, err := c.enter(ctx, operation)
	if err != nil {
		return err
	}
	defer done()
	defer func() {
		for _, o := range ops {
			c.unstamp(o)
		}
	}()
	var valid []*op
	for _, o := range ops {
		c.stamp(o)
		if checkOp(ctx, o) {
			valid = append(valid, o)
		}
	}
	// Shards, not TotalShards: Routing does not see a Kv.Batch, so the
	// wait for an unknown count and the refusal of a mismatched one are
	// made here, as Routing makes them for a single call.
	var total int
	if len(valid) > 0 {
		if total, err = c.topo.Shards(cctx); err != nil {
			return c.fail(ctx, ops, err)
		}
	}
	groups := map[string][]*op{}
	var alone []*op
	routes := c.newShardRoutes(total)
	for _, o := range valid {
		addr := routes.addr(o)
		if !c.batchable(addr) {
			alone = append(alone, o)
			continue
		}
		groups[addr] = append(groups[addr], o)
	}
	var wg sync.WaitGroup
	later := make([][]*op, 0, len(groups))
	for addr, g := range groups {
		if len(g) == 1 {
			alone = append(alone, g[0])
			continue
		}
		later = append(later, nil)
		out := &later[len(later)-1]
		wg.Go(func() { *out = c.sendNode(cctx, addr, total, g) })
	}
	wg.Wait()
	for _, l := range later {
		alone = append(alone, l...)
	}
	// Single calls, concurrent across keys but in the order added on one
	// key, as the Batch doc promises.
	sem := make(chan struct{}, maxUnaryFanout)
	for _, seq := range byKeyInOrder(ops, alone) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, o := range seq {
				octx, cancel := cctx, context.CancelFunc(nil)
				if !o.deadline.IsZero() {
					// Its exchange's Timeout, not a fresh one.
					octx, cancel = context.WithDeadline(cctx, o.deadline)
				}
				if o.redo != redoNone {
					c.resend(octx, o)
				} else {
					c.unary(octx, o)
				}
				if cancel != nil {
					cancel()
				}
			}
		}()
	}
	wg.Wait()
	var be *BatchError
	for i, o := range ops {
		if o.err == nil {
			continue
		}
		if be == nil {
			be = &BatchError{Errs: make([]error, len(ops))}
		}
		be.Errs[i] = c.callError(ctx, o.name(), o.err)
	}
	if be == nil {
		return nil
	}
	return be
}

// sendNode sends g, the ops for node addr in the order added, as
// Kv.Batch exchanges one after another, so operations on one key keep
// their order across exchanges too. It returns the ops to send alone
// afterwards: those the node asked to have sent again (NOT_LEADER, a
// retryable failure) and every later op on their keys, which must not
// overtake them. Ops the node did not run only for its answer's size go
// in the next exchange.
func (c *Client) sendNode(ctx context.Context, addr string, total int, g []*op) (alone []*op) {
	var held map[string]bool // keys with an op to be sent alone
	for len(g) > 0 {
		n := orderSafe(g[:fit(g, int(c.getSize.Load()))])
		ch := g[:n]
		ectx, cancel := c.withTimeout(ctx)
		c.exchange(ectx, addr, total, ch)
		cancel()
		dl, _ := ectx.Deadline()
		var next []*op
		for _, o := range ch {
			k := string(o.key())
			o.deadline = dl
			switch {
			case o.redo == redoNone:
			case o.redo == redoNext && !held[k]:
				o.redo, o.err = redoNone, nil
				next = append(next, o)
			default:
				if held == nil {
					held = map[string]bool{}
				}
				held[k] = true
				alone = append(alone, o)
			}
		}
		rest := next
		for _, o := range g[n:] {
			if held[string(o.key())] {
				alone = append(alone, o)
			} else {
				rest = append(rest, o)
			}
		}
		g = rest
	}
	return alone
}

// orderSafe is how many of ops, from the first, may share one exchange:
// up to (not including) a write on a key read earlier among them. A failed
// exchange is retried whole, and its writes, applied on the first try,
// are replayed with their first result while its reads run again: a read
// followed by a write on its key in one exchange could then see the
// write, out of the order added.
func orderSafe(ops []*op) int {
	var read map[string]bool
	for i, o := range ops {
		k := string(o.key())
		switch {
		case o.kind == opGet:
			if read == nil {
				read = map[string]bool{}
			}
			read[k] = true
		case read[k]:
			return i
		}
	}
	return len(ops)
}

// byKeyInOrder returns the ops of some, grouped by key, each group in the
// order the ops stand in all.
func byKeyInOrder(all, some []*op) [][]*op {
	in := make(map[*op]bool, len(some))
	for _, o := range some {
		in[o] = true
	}
	var seqs [][]*op
	at := map[string]int{}
	for _, o := range all {
		if !in[o] {
			continue
		}
		k := string(o.key())
		i, ok := at[k]
		if !ok {
			i = len(seqs)
			at[k] = i
			seqs = append(seqs, nil)
		}
		seqs[i] = append(seqs[i], o)
	}
	return seqs
}

// fail gives every op err and returns the BatchError.
func (c *Client) fail(ctx context.Context, ops []*op, err error) error {
	be := &BatchError{Errs: make([]error, len(ops))}
	for i, o := range ops {
		if o.err == nil {
			o.err = c.callError(ctx, o.name(), err)
		}
		be.Errs[i] = o.err
	}
	return be
}
