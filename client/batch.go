package norikv

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/validation"
	"github.com/norikv/norikv-go/internal/wire"
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
// grouped into one Kv.Batch per node and sent concurrently. Operations
// answered NOT_LEADER, and retryable failures of reads and of writes
// (which always carry an idempotency key, so a retry is applied once),
// are retried as single calls, re-routed, within Config.Retry (writes
// without an idempotency key, against clusters that do not announce client
// sessions, only after failures that prove they were not applied). A node that
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

// opKind is what an op does.
type opKind uint8

const (
	opGet opKind = iota
	opPut
	opDelete
)

// op is one Get, Put or Delete: its request, as sent alone or in a batch,
// and its result. Natural batching (batcher.go) and explicit batches share
// it.
type op struct {
	kind opKind
	get  *GetResult // opGet's result
	req  v1.BatchOp // the request; its oneof holds one of the three below

	getReq v1.BatchOp_Get
	putReq v1.BatchOp_Put
	delReq v1.BatchOp_Delete

	ver        Version
	tombstoned bool
	err        error

	// done is closed when a queued op's result is set (batcher.go).
	done chan struct{}
	// redo asks for the op to be sent again alone (resend).
	redo redoKind
	// stamped: the client gave this write its idempotency key, session
	// sequence seq (session.go); unkeyed: it goes without a key.
	stamped, unkeyed bool
	seq              uint64
}

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

func (o *op) initGet(key string, opts []GetOption) {
	var g getOptions
	if len(opts) > 0 {
		g = collectGetOptions(opts)
	}
	o.kind = opGet
	o.getReq.Get = &v1.GetRequest{Key: []byte(key), Consistency: g.consistency.spelling()}
	o.req.Op = &o.getReq
}

// initPut builds the request, in a message of our own: the client keys
// it before it is sent (stamp, session.go).
func (o *op) initPut(key string, value []byte, opts []PutOption) {
	var p putOptions
	if len(opts) > 0 {
		p = collectPutOptions(opts)
	}
	o.kind = opPut
	r := &v1.PutRequest{Key: []byte(key), Value: value, TtlMs: p.ttlMs, IdempotencyKey: p.idemKey}
	if p.hasIfMatch {
		r.IfMatch = p.ifMatch.proto()
	}
	o.putReq.Put = r
	o.req.Op = &o.putReq
}

func (o *op) initDelete(key string, opts []DeleteOption) {
	var d deleteOptions
	if len(opts) > 0 {
		d = collectDeleteOptions(opts)
	}
	o.kind = opDelete
	r := &v1.DeleteRequest{Key: []byte(key), IdempotencyKey: d.idemKey}
	if d.hasIfMatch {
		r.IfMatch = d.ifMatch.proto()
	}
	o.delReq.Delete = r
	o.req.Op = &o.delReq
}

func (o *op) key() []byte {
	switch o.kind {
	case opGet:
		return o.getReq.Get.Key
	case opPut:
		return o.putReq.Put.Key
	}
	return o.delReq.Delete.Key
}

func (o *op) name() string {
	switch o.kind {
	case opGet:
		return "Get"
	case opPut:
		return "Put"
	}
	return "Delete"
}

func (o *op) needsLeader() bool {
	if o.kind != opGet {
		return true
	}
	cl, _ := wire.ParseConsistency(o.getReq.Get.Consistency)
	return cl.NeedsLeader()
}

// unary sends o alone through the interceptor chain (validation, retry,
// routing): the path of Client.Get, Put and Delete.
func (c *Client) unary(ctx context.Context, o *op) {
	o.err = nil
	ctx = unaryCtx(ctx, o, c.obsCalls != nil)
	switch o.kind {
	case opGet:
		res, err := c.kv.Get(ctx, o.getReq.Get)
		if err != nil {
			o.err = err
			return
		}
		o.get = &GetResult{Value: res.GetValue(), Version: versionFrom(res.GetVersion()), Meta: res.GetMeta()}
	case opPut:
		res, err := c.kv.Put(ctx, o.putReq.Put)
		if err != nil {
			o.err = err
			return
		}
		o.ver = versionFrom(res.GetVersion())
	case opDelete:
		res, err := c.kv.Delete(ctx, o.delReq.Delete)
		if err != nil {
			o.err = err
			return
		}
		o.tombstoned, o.ver = res.GetTombstoned(), versionFrom(res.GetVersion())
	}
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

// checkOp validates o's request against the schema, as the Validate
// interceptor does for a single call, and sets o.err if it fails.
func checkOp(ctx context.Context, o *op) bool {
	var m proto.Message
	switch o.kind {
	case opGet:
		m = o.getReq.Get
	case opPut:
		m = o.putReq.Put
	default:
		m = o.delReq.Delete
	}
	if verr := validation.Check(m); verr != nil {
		e := interceptors.Convert(ctx, o.name(), verr)
		e.Key = string(o.key())
		o.err = e
		return false
	}
	return true
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

// maxUnaryFanout bounds the single calls one Do runs at once (operations
// for nodes without Kv.Batch, and retries), so a large batch against an
// old server does not open a connection per key.
const maxUnaryFanout = 32

// do runs ops: one Kv.Batch per node (and per chunk), concurrently, then
// the ops to send again alone. Invalid ops fail alone before anything is
// sent.
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
	// One routing decision per shard (and kind of read): before the
	// leader is known Route spreads calls over the seeds, and two
	// operations on one key must not go to two nodes concurrently, or a
	// Get could overtake the Put before it in the batch.
	type route struct {
		shard  int
		leader bool
	}
	routed := map[route]string{}
	for _, o := range valid {
		rk := route{routing.Shard(o.key(), total), o.needsLeader()}
		addr, ok := routed[rk]
		if !ok {
			addr = c.router.Route(rk.shard, rk.leader)
			routed[rk] = addr
		}
		if !c.batchable(addr) {
			alone = append(alone, o)
			continue
		}
		groups[addr] = append(groups[addr], o)
	}
	var wg sync.WaitGroup
	for addr, g := range groups {
		if len(g) == 1 {
			alone = append(alone, g[0])
			continue
		}
		// A node's chunks go one after another, so operations on one
		// key keep their order across chunks too.
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, ch := range chunks(g) {
				c.sendBatch(cctx, addr, total, ch)
			}
		}()
	}
	wg.Wait()
	var again []*op
	for _, g := range groups {
		for _, o := range g {
			if o.redo != redoNone {
				again = append(again, o)
			}
		}
	}
	// Single calls, concurrent across keys but in the order added on one
	// key, as the Batch doc promises.
	sem := make(chan struct{}, maxUnaryFanout)
	for _, seq := range byKeyInOrder(ops, append(alone, again...)) {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			for _, o := range seq {
				if o.redo != redoNone {
					c.resend(cctx, o)
				} else {
					c.unary(cctx, o)
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
