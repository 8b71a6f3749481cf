package reliability

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/anishathalye/porcupine"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/server"
)

// linConfig sizes the run. NORIKV_RELIABILITY_SECONDS overrides the
// duration (e.g. a long soak); -short halves it.
type linConfig struct {
	clients  int
	keys     int
	duration time.Duration
	dropRate uint64 // per-mille
	interval time.Duration
	// lag is the cluster's Config.ReplicationLag. With it, gets mix
	// lease, linearizable and stale_ok reads; the stale ones go straight
	// to a node and are checked by staleReads, not porcupine.
	lag time.Duration
	// perClient workers share each client (0: one), so the client
	// batches their concurrent calls.
	perClient int
}

func defaultLinConfig() linConfig {
	c := linConfig{clients: 8, keys: 16, duration: 5 * time.Second, dropRate: 30, interval: 150 * time.Millisecond}
	if s, err := strconv.Atoi(os.Getenv("NORIKV_RELIABILITY_SECONDS")); err == nil && s > 0 {
		c.duration = time.Duration(s) * time.Second
	} else if testing.Short() {
		c.duration /= 2
	}
	return c
}

// linReport is what a run observed; the README's Reliability section
// quotes it.
type linReport struct {
	Operations, Unknown, Partitions int
	Faults                          faultCounts
	Dropped, Attempts               uint64
	Applies, Acked                  uint64
	Violations                      int
}

// TestLinearizabilityUnderFaults runs concurrent clients over all three
// protocols against a cluster under a fault schedule, records every call,
// and checks that the history is linearizable, that no acknowledged write
// was lost and that no write was applied twice.
func TestLinearizabilityUnderFaults(t *testing.T) {
	rep := runLinearizability(t, defaultLinConfig())
	t.Logf("linearizability: %d operations checked (%d with unknown outcome) over %d keys; faults injected: %d (%+v) plus %d responses dropped after apply; %d attempts; %d writes acked, %d applied; violations: %d",
		rep.Operations, rep.Unknown, rep.Partitions, rep.Faults.total(), rep.Faults, rep.Dropped, rep.Attempts, rep.Acked, rep.Applies, rep.Violations)
}

func runLinearizability(t *testing.T, lc linConfig) linReport {
	env := newFaultEnv(t, server.Config{Nodes: 3, Shards: 64, ReplicationLag: lc.lag})
	var stale *staleReads
	if lc.lag > 0 {
		stale = newStaleReads(t, env.cluster)
	}
	rec := NewRecorder()
	if stale != nil {
		stale.rec = rec
		stale.hedgedClient(t, env)
	}
	env.dropRate.Store(lc.dropRate)
	keys := make([]string, lc.keys)
	hot := map[uint32]bool{}
	var hotShards []uint32
	for i := range keys {
		keys[i] = fmt.Sprintf("lin-%d", i)
		if s := env.cluster.ShardOf([]byte(keys[i])); !hot[s] {
			hot[s] = true
			hotShards = append(hotShards, s)
		}
	}

	protocols := []norikv.Protocol{norikv.ProtocolGRPC, norikv.ProtocolConnect, norikv.ProtocolGRPCWeb}
	clients := make([]*norikv.Client, lc.clients)
	for i := range clients {
		attempts := 0 // the default
		if i%4 == 1 {
			// No retries: a dropped response or a reset is returned
			// as is, so the history holds writes of unknown outcome
			// that other clients may or may not observe.
			attempts = 1
		}
		clients[i] = env.client(t, norikv.Config{
			Protocol: protocols[i%len(protocols)],
			JSON:     i%4 == 3,
			Timeout:  2 * time.Second,
			Retry: norikv.RetryConfig{
				MaxAttempts:    attempts,
				InitialDelay:   10 * time.Millisecond,
				MaxDelay:       100 * time.Millisecond,
				Jitter:         10 * time.Millisecond,
				AttemptTimeout: 500 * time.Millisecond,
			},
		})
	}

	var (
		mu      sync.Mutex
		tally   writeTally
		lastPut = map[string]ackedPut{} // highest acked put version per key
		deletes = map[string][]int64{}  // per key, return times of acked or unknown deletes
	)
	ctx, cancel := context.WithTimeout(context.Background(), lc.duration)
	defer cancel()
	faultsDone := make(chan faultCounts, 1)
	go func() { faultsDone <- env.runFaults(ctx, t, lc.interval, hotShards, 7) }()

	perClient := max(lc.perClient, 1)
	var wg sync.WaitGroup
	for wi := range lc.clients * perClient {
		c := clients[wi/perClient]
		wg.Go(func() {
			ci := wi // one porcupine client per worker: its calls are sequential
			w := &worker{id: ci, c: c, rec: rec, keys: keys, rng: rand.New(rand.NewPCG(uint64(ci), 99)), versions: map[string]norikv.Version{}, stale: stale}
			defer func() {
				if w.err != nil {
					t.Error(w.err)
				}
			}()
			for ctx.Err() == nil {
				in, out, call, ret := w.step()
				mu.Lock()
				tally.add(in, out)
				switch {
				case (in.Kind == OpPut || in.Kind == OpCAS) && !out.Unknown && out.OK:
					if lp := lastPut[in.Key]; out.Version.Index >= lp.version.Index {
						lastPut[in.Key] = ackedPut{version: out.Version, value: in.Value, call: call}
					}
				case in.Kind == OpDelete:
					deletes[in.Key] = append(deletes[in.Key], ret)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	faults := <-faultsDone
	env.restoreAll(t)

	// Final reads, fault-free, through a fresh client: part of the history
	// (so porcupine checks them) and checked against the acked writes.
	env.dropRate.Store(0)
	final := env.client(t, norikv.Config{Timeout: 5 * time.Second})
	for _, k := range keys {
		done := rec.Call(lc.clients*perClient, Input{Kind: OpGet, Key: k})
		res, err := final.Get(context.Background(), k, norikv.WithConsistency(norikv.ConsistencyLinearizable))
		out := Output{}
		switch {
		case err == nil:
			out = Output{OK: true, Value: string(res.Value), Version: res.Version}
		case errors.Is(err, norikv.ErrKeyNotFound):
		default:
			t.Fatalf("final read of %s: %v", k, err)
		}
		done.End(out)
		checkNotLost(t, k, out, lastPut[k], deletes[k])
	}

	ops := rec.Operations()
	if stale != nil {
		stale.check(t, ops, lc.lag)
		h := stale.sdk.Stats().Hedges
		t.Logf("hedged stale_ok reads through the SDK: %d hedges sent, %d won", h.Sent, h.Won)
		if h.Sent == 0 {
			t.Error("no stale_ok read through the SDK was hedged: the model checked no hedge")
		}
	}
	res, info := porcupine.CheckOperationsVerbose(KVModel, ops, 30*time.Second)
	rep := linReport{Operations: len(ops), Partitions: len(keys), Faults: faults, Dropped: env.dropped.Load(), Attempts: env.attempts.Load()}
	for _, op := range ops {
		if op.Output.(Output).Unknown {
			rep.Unknown++
		}
	}
	switch res {
	case porcupine.Ok:
	case porcupine.Illegal:
		rep.Violations = 1
		path := filepath.Join(os.TempDir(), fmt.Sprintf("norikv-linearizability-%d.html", time.Now().UnixNano()))
		if err := porcupine.VisualizePath(KVModel, info, path); err == nil {
			t.Errorf("history is not linearizable; visualization: %s", path)
		} else {
			t.Errorf("history is not linearizable (visualization failed: %v)", err)
		}
	default:
		t.Errorf("linearizability check timed out (%d operations)", len(ops))
	}

	// No double apply: every write call carries one idempotency key, so
	// the server applies at most one write per call, and at least every
	// acknowledged one.
	st := env.cluster.Stats()
	rep.Applies = st.Puts + st.Deletes
	rep.Acked = tally.acked
	if rep.Applies < tally.acked || rep.Applies > tally.acked+tally.unknown {
		t.Errorf("server applied %d writes; calls: %d acknowledged, %d with unknown outcome (idempotent replays %d): a write was applied twice or an acked write was not applied",
			rep.Applies, tally.acked, tally.unknown, st.IdempotentReplays)
	}
	if rep.Violations == 0 && t.Failed() {
		rep.Violations = 1
	}
	return rep
}

// writeTally counts write calls by outcome.
type writeTally struct{ acked, unknown, refused uint64 }

func (w *writeTally) add(in Input, out Output) {
	if in.Kind == OpGet {
		return
	}
	switch {
	case out.Unknown:
		w.unknown++
	case out.OK || in.Kind == OpDelete:
		w.acked++
	default:
		w.refused++ // a CAS that lost: applied nothing
	}
}

type ackedPut struct {
	version norikv.Version
	value   string
	call    int64
}

// checkNotLost fails if the final read of k lost the last acknowledged
// put: it must see that put or a later write, or be absent only if a
// delete could have come after the put.
func checkNotLost(t *testing.T, k string, final Output, last ackedPut, deleteReturns []int64) {
	t.Helper()
	if last.version.IsZero() {
		return
	}
	if !final.OK {
		for _, ret := range deleteReturns {
			if ret > last.call {
				return
			}
		}
		t.Errorf("acknowledged write lost: %s was %q at %v, now absent with no delete after it", k, last.value, last.version)
		return
	}
	if final.Version.Index < last.version.Index || (final.Version == last.version && final.Value != last.value) {
		t.Errorf("acknowledged write lost: %s was %q at %v, final read %q at %v", k, last.value, last.version, final.Value, final.Version)
	}
}

// worker is one client's sequential stream of calls.
type worker struct {
	id       int
	c        *norikv.Client
	rec      *Recorder
	keys     []string
	rng      *rand.Rand
	seq      int
	versions map[string]norikv.Version // last version seen per key, for CAS
	stale    *staleReads               // with lag: mix consistencies
	err      error                     // an unexpected refusal, reported at the end
}

func (w *worker) step() (in Input, out Output, call, ret int64) {
	w.seq++
	key := w.keys[w.rng.IntN(len(w.keys))]
	in = Input{Key: key, Value: fmt.Sprintf("c%d-%d", w.id, w.seq)}
	switch r := w.rng.IntN(10); {
	case r < 4:
		in.Kind = OpGet
	case r < 6:
		in.Kind = OpPut
	case r < 9:
		in.Kind = OpCAS
		in.IfMatch = w.versions[key]
		if in.IfMatch.IsZero() {
			in.IfMatch = norikv.Version{Term: 1, Index: 1}
		}
	default:
		in.Kind = OpDelete
	}
	done := w.rec.Call(w.id, in)
	ctx := context.Background()
	var err error
	switch in.Kind {
	case OpGet:
		var opts []norikv.GetOption
		if w.stale != nil {
			switch w.rng.IntN(3) {
			case 0:
				opts = append(opts, norikv.WithConsistency(norikv.ConsistencyLinearizable))
			case 1:
				w.stale.read(ctx, w.rng, key)
				w.stale.readSDK(ctx, key) // hedged
			}
		}
		var res *norikv.GetResult
		res, err = w.c.Get(ctx, key, opts...)
		if err == nil {
			out = Output{OK: true, Value: string(res.Value), Version: res.Version}
			w.versions[key] = res.Version
		}
	case OpPut, OpCAS:
		var opts []norikv.PutOption
		if in.Kind == OpCAS {
			opts = append(opts, norikv.IfMatch(in.IfMatch))
		}
		var v norikv.Version
		v, err = w.c.Put(ctx, key, []byte(in.Value), opts...)
		if err == nil {
			out = Output{OK: true, Version: v}
			w.versions[key] = v
		}
	case OpDelete:
		err = w.c.Delete(ctx, key)
	}
	switch {
	case err == nil:
	case in.Kind == OpGet && errors.Is(err, norikv.ErrKeyNotFound):
	case in.Kind == OpCAS && errors.Is(err, norikv.ErrVersionMismatch):
	case connect.CodeOf(err) == connect.CodeInvalidArgument:
		// Never expected; recorded as unknown so the check still runs.
		w.err = fmt.Errorf("worker %d: %s refused as invalid: %w", w.id, in.Kind, err)
		out.Unknown = true
	default:
		out.Unknown = true
	}
	call, ret = done.End(out)
	return in, out, call, ret
}
