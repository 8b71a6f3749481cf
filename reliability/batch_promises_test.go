package reliability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anishathalye/porcupine"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/server"
)

// exchangeFaults is a fixed fault schedule for Kv.Batch exchanges and
// single writes, by count, so every run injects the same share of each:
// every 9th exchange is refused UNAVAILABLE unserved, every 7th has its
// answer lost after the server applied it, every 23rd single write too.
type exchangeFaults struct {
	off                        atomic.Bool // no faults: the final reads
	batches, singles           atomic.Uint64
	refused, dropped, dropped1 atomic.Uint64
}

func (f *exchangeFaults) interceptor() connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			proc := req.Spec().Procedure
			if f.off.Load() {
				return next(ctx, req)
			}
			if proc == norikvv1connect.KvBatchProcedure {
				n := f.batches.Add(1)
				if n%9 == 0 {
					f.refused.Add(1)
					return nil, connect.NewError(connect.CodeUnavailable, errors.New("fault injection: exchange refused"))
				}
				res, err := next(ctx, req)
				if err == nil && n%7 == 0 {
					f.dropped.Add(1)
					return nil, connect.NewError(connect.CodeUnavailable, errDropped)
				}
				return res, err
			}
			res, err := next(ctx, req)
			if err == nil && isWrite(proc) && f.singles.Add(1)%23 == 0 {
				f.dropped1.Add(1)
				return nil, connect.NewError(connect.CodeUnavailable, errDropped)
			}
			return res, err
		}
	})
}

// versionLess orders versions as the server issues them.
func versionLess(a, b norikv.Version) bool {
	return a.Term < b.Term || a.Term == b.Term && a.Index < b.Index
}

// outcomeOf classifies a call's error for the model: nil is OK, a lost
// CAS or a missing key a known "no", anything else unknown.
func outcomeOf(err error) (known, ok bool) {
	switch {
	case err == nil:
		return true, true
	case errors.Is(err, norikv.ErrVersionMismatch), errors.Is(err, norikv.ErrKeyNotFound):
		return true, false
	}
	return false, false
}

// batchOp is one operation of a Batch on a hot key, for the model and the
// order check.
type batchOp struct {
	in  Input
	get *norikv.BatchGet
	put *norikv.BatchPut
}

func (b batchOp) output() (Output, error) {
	if b.get != nil {
		r, err := b.get.Result()
		known, ok := outcomeOf(err)
		out := Output{Unknown: !known, OK: ok}
		if ok {
			out.Value, out.Version = string(r.Value), r.Version
		}
		return out, err
	}
	v, err := b.put.Result()
	known, ok := outcomeOf(err)
	return Output{Unknown: !known, OK: ok, Version: v}, err
}

// Several clients mix single calls and Batches on a few hot keys (same-key
// conflicts inside and across batches, CAS, batches of over 1,000 ops that
// split into chunks) under refused and lost exchanges, lost single answers
// and leader moves. The history is checked by porcupine per key; each
// Batch's operations on one key must have applied in order; every
// acknowledged write of the big batches reads back; the server applied
// each write at most once and every acknowledged one; the retries spent
// stay within the budget the calls earned.
func TestBatchesKeepSingleCallPromises(t *testing.T) {
	const (
		clients, singleWorkers, batchWorkers = 3, 2, 2
		singleOps, batches                   = 40, 6
		bigEvery, filler                     = 3, 1050
		budgetRatio, budgetFloor             = 0.2, 10
	)
	hot := []string{"hot:a", "hot:b", "hot:c", "hot:d", "hot:e", "hot:f", "hot:g", "hot:h"}
	env := newFaultEnv(t, server.Config{Nodes: 3, Shards: 8})
	faults := &exchangeFaults{}
	rec := NewRecorder()
	var cls []*norikv.Client
	for range clients {
		c := env.client(t, norikv.Config{
			Timeout:      10 * time.Second,
			Interceptors: []connect.Interceptor{faults.interceptor()},
			Retry: norikv.RetryConfig{
				MaxAttempts: 8, InitialDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, Jitter: -1,
				BudgetRatio: budgetRatio, BudgetFloor: budgetFloor,
			},
		})
		if err := c.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		cls = append(cls, c)
	}

	// Leader moves at fixed points of the workers' progress (not on a
	// timer), so a loaded machine sees as many as an idle one.
	var moves, moveSeq atomic.Uint64
	ids := env.cluster.NodeIDs()
	move := func() {
		i := int(moveSeq.Add(1))
		if env.cluster.TransferLeader(uint32(i%8), ids[(i/8)%len(ids)]) == nil {
			moves.Add(1)
		}
	}

	var (
		mu              sync.Mutex
		acked, unknownW uint64 // writes: acknowledged, of unknown outcome
		logical         uint64 // operations the clients were asked for
		orderViolations []string
		fillerAcked     = map[string]string{}
		failures        []string
		clientID        atomic.Int32
		seq             atomic.Uint64
	)
	var unknownErrs []string
	countWrite := func(known, ok bool, err error) {
		mu.Lock()
		defer mu.Unlock()
		switch {
		case !known:
			unknownW++
			if len(unknownErrs) < 5 {
				unknownErrs = append(unknownErrs, err.Error())
			}
		case ok:
			acked++
		}
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for ci, c := range cls {
		for w := range singleWorkers {
			wg.Go(func() {
				id := int(clientID.Add(1))
				r := rand.New(rand.NewPCG(uint64(ci), uint64(w)))
				var seen norikv.Version
				for i := range singleOps {
					if i%8 == 7 {
						move()
					}
					k := hot[r.IntN(len(hot))]
					switch r.IntN(5) {
					case 0, 1:
						p := rec.Call(id, Input{Kind: OpGet, Key: k})
						g, err := c.Get(ctx, k)
						known, ok := outcomeOf(err)
						out := Output{Unknown: !known, OK: ok}
						if ok {
							out.Value, out.Version, seen = string(g.Value), g.Version, g.Version
						}
						p.End(out)
					case 2:
						v := fmt.Sprintf("s%d", seq.Add(1))
						p := rec.Call(id, Input{Kind: OpCAS, Key: k, Value: v, IfMatch: seen})
						ver, err := c.Put(ctx, k, []byte(v), norikv.IfMatch(seen))
						known, ok := outcomeOf(err)
						p.End(Output{Unknown: !known, OK: ok, Version: ver})
						countWrite(known, ok, err)
					default:
						v := fmt.Sprintf("s%d", seq.Add(1))
						p := rec.Call(id, Input{Kind: OpPut, Key: k, Value: v})
						ver, err := c.Put(ctx, k, []byte(v))
						known, ok := outcomeOf(err)
						p.End(Output{Unknown: !known, OK: ok, Version: ver})
						countWrite(known, ok, err)
					}
					mu.Lock()
					logical++
					mu.Unlock()
				}
			})
		}
		for w := range batchWorkers {
			wg.Go(func() {
				id := int(clientID.Add(1))
				r := rand.New(rand.NewPCG(uint64(ci)+100, uint64(w)))
				for bi := range batches {
					var b norikv.Batch
					var ops []batchOp
					add := func(kind OpKind, k string) {
						switch kind {
						case OpGet:
							ops = append(ops, batchOp{in: Input{Kind: OpGet, Key: k}, get: b.Get(k)})
						default:
							v := fmt.Sprintf("b%d", seq.Add(1))
							ops = append(ops, batchOp{in: Input{Kind: OpPut, Key: k, Value: v}, put: b.Put(k, []byte(v))})
						}
					}
					// Same-key conflicts: a put, a read, another put on
					// one key, around operations on the others.
					k := hot[r.IntN(len(hot))]
					add(OpPut, k)
					add(OpGet, hot[r.IntN(len(hot))])
					add(OpGet, k)
					var fillers []string
					var fillerPuts []*norikv.BatchPut
					if bi%bigEvery == bigEvery-1 {
						// Over 1,000 ops: the batch splits into
						// chunks, and k's next put is in a later one.
						for f := range filler {
							fk := fmt.Sprintf("fill:%d:%d:%d:%d", ci, w, bi, f)
							fillers = append(fillers, fk)
							fillerPuts = append(fillerPuts, b.Put(fk, []byte(fk)))
						}
					}
					add(OpPut, k)
					add(OpGet, k)
					add(OpPut, hot[r.IntN(len(hot))])
					pend := make([]*Pending, len(ops))
					for i, o := range ops {
						pend[i] = rec.Call(id, o.in)
					}
					move()
					if err := c.Do(ctx, &b); err != nil {
						if _, ok := errors.AsType[*norikv.BatchError](err); !ok {
							mu.Lock()
							failures = append(failures, err.Error())
							mu.Unlock()
						}
					}
					// Per key, in the order added: a write's version
					// above everything before it, a read's not below.
					last := map[string]norikv.Version{}
					wrote := map[string]bool{}
					for i, o := range ops {
						out, err := o.output()
						pend[i].End(out)
						if o.put != nil {
							countWrite(!out.Unknown, out.OK, err)
						}
						if out.Unknown || !out.OK {
							if o.get != nil && !out.Unknown && wrote[o.in.Key] {
								mu.Lock()
								orderViolations = append(orderViolations, fmt.Sprintf("%s: not found after a put in the same batch", o.in.Key))
								mu.Unlock()
							}
							continue
						}
						prev, had := last[o.in.Key]
						bad := had && (o.put != nil && !versionLess(prev, out.Version) || o.get != nil && versionLess(out.Version, prev))
						if bad {
							mu.Lock()
							orderViolations = append(orderViolations, fmt.Sprintf("%s op %d (%s) at %v after %v", o.in.Key, i, o.in.Kind, out.Version, prev))
							mu.Unlock()
						}
						last[o.in.Key] = out.Version
						if o.put != nil {
							wrote[o.in.Key] = true
						}
					}
					mu.Lock()
					logical += uint64(len(ops) + len(fillerPuts))
					mu.Unlock()
					for i, p := range fillerPuts {
						_, err := p.Result()
						known, ok := outcomeOf(err)
						countWrite(known, ok, err)
						if ok {
							mu.Lock()
							fillerAcked[fillers[i]] = fillers[i]
							mu.Unlock()
						}
					}
				}
			})
		}
	}
	wg.Wait()
	faults.off.Store(true)

	// Every acknowledged filler write reads back, read by a client
	// without the faults.
	check := env.client(t, norikv.Config{Timeout: 10 * time.Second})
	if err := check.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	var fks []string
	for k := range fillerAcked {
		fks = append(fks, k)
	}
	got, err := check.MultiGet(ctx, fks)
	if err != nil {
		t.Logf("final MultiGet: %v (failed reads are read again alone)", err)
	}
	lost := 0
	for i, k := range fks {
		if got[i] == nil {
			if g, err := check.Get(ctx, k); err == nil {
				got[i] = g
			} else if !errors.Is(err, norikv.ErrKeyNotFound) {
				t.Errorf("reading %s back: %v", k, err)
				continue
			}
		}
		if got[i] == nil || string(got[i].Value) != k {
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged writes of the big batches lost", lost, len(fks))
	}

	ops := rec.Operations()
	start := time.Now()
	if res := porcupine.CheckOperations(KVModel, ops); !res {
		t.Error("porcupine: the history is not linearizable")
	}
	t.Logf("porcupine checked %d operations in %v", len(ops), time.Since(start))
	for _, v := range orderViolations {
		t.Errorf("order on one key in a Batch broken: %s", v)
	}
	for _, f := range failures {
		t.Errorf("Do failed as a whole: %s", f)
	}
	st := env.cluster.Stats()
	applied := st.Puts
	if applied < acked || applied > acked+unknownW {
		t.Errorf("server applied %d writes; acknowledged %d, unknown %d: a write lost or applied twice", applied, acked, unknownW)
	}
	var retries, refusedByBudget uint64
	for _, c := range cls {
		s := c.Stats().Requests
		retries += s.Retries
		refusedByBudget += s.BudgetExhausted
	}
	limit := budgetRatio*float64(logical) + float64(clients*budgetFloor)
	t.Logf("%d logical operations (%d recorded for porcupine), %d writes acked, %d unknown, %d applied; faults: %d exchanges refused, %d batch and %d single answers lost, %d leader moves; retries %d (limit %.0f), refused by budget %d",
		logical, len(ops), acked, unknownW, applied, faults.refused.Load(), faults.dropped.Load(), faults.dropped1.Load(), moves.Load(), retries, limit, refusedByBudget)
	for _, e := range unknownErrs {
		t.Logf("a write of unknown outcome: %s", e)
	}
	if float64(retries) > limit {
		t.Errorf("%d retries for %d operations: over the budget ratio %.2f (+ floor)", retries, logical, budgetRatio)
	}
	if faults.refused.Load() == 0 || faults.dropped.Load() == 0 || faults.dropped1.Load() == 0 || moves.Load() == 0 {
		t.Fatal("a fault was never injected")
	}
}
