package norikv_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	norikv "github.com/norikv/norikv-go/client"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/norikvtest"
	"github.com/norikv/norikv-go/server"
)

// TestSessionsSustainedRateNotRefused: writes far beyond the server's
// idempotency key budget, all inside its retry window, are applied, not
// refused: automatic keys are session keys, and a session keeps only the
// answers its client may still retry.
func TestSessionsSustainedRateNotRefused(t *testing.T) {
	cl := startCluster(t, norikvtest.WithShards(4), norikvtest.WithConfig(func(c *server.Config) {
		c.IdempotencyMaxEntries = 100
		c.IdempotencyTTL = 10 * time.Minute
		c.IdempotencyRetryWindow = 10 * time.Minute
	}))
	c := newTestClient(t, cl, protocolCase{})
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 250 // 2,000 writes: 20 times the key budget
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				if _, err := c.Put(ctx, fmt.Sprintf("k%d-%d", w, i), []byte("v")); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n == 0 {
			t.Errorf("first refused write: %v", err)
		}
		n++
	}
	if n > 0 {
		t.Fatalf("%d of %d writes failed", n, workers*each)
	}
	if st := c.Stats().Requests; st.AutoKeyed != workers*each || st.Unkeyed != 0 {
		t.Fatalf("Stats: %d auto-keyed, %d unkeyed; want %d and 0", st.AutoKeyed, st.Unkeyed, workers*each)
	}
}

// keysSeen records the idempotency keys of the writes a cluster receives.
type keysSeen struct {
	mu    sync.Mutex
	keyed int
	bare  int
}

func (k *keysSeen) hook(_ context.Context, _, _ string, req any) error {
	var keys []string
	switch r := req.(type) {
	case *v1.PutRequest:
		keys = append(keys, r.IdempotencyKey)
	case *v1.DeleteRequest:
		keys = append(keys, r.IdempotencyKey)
	case *v1.BatchRequest:
		for _, op := range r.Ops {
			if p := op.GetPut(); p != nil {
				keys = append(keys, p.IdempotencyKey)
			}
			if d := op.GetDelete(); d != nil {
				keys = append(keys, d.IdempotencyKey)
			}
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, key := range keys {
		if key != "" {
			k.keyed++
		} else {
			k.bare++
		}
	}
	return nil
}

// TestNoAutomaticKeyToOldServer: a server that does not announce bounded
// idempotency memory gets no automatic idempotency key, from single
// calls, natural batches or explicit batches; a caller's key still goes.
func TestNoAutomaticKeyToOldServer(t *testing.T) {
	seen := &keysSeen{}
	cl := startCluster(t, norikvtest.WithShards(4), norikvtest.WithFaults(seen.hook), norikvtest.WithDefects(server.Defects{NoSessions: true}))
	c := newTestClient(t, cl, protocolCase{})
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 20 {
				key := fmt.Sprintf("k%d-%d", w, i)
				if _, err := c.Put(ctx, key, []byte("v")); err != nil {
					t.Error(err)
				}
				if err := c.Delete(ctx, key); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	if _, err := c.MultiPut(ctx, []norikv.KeyValue{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "c", Value: []byte("3")}}); err != nil {
		t.Fatal(err)
	}
	seen.mu.Lock()
	keyed, bare := seen.keyed, seen.bare
	seen.mu.Unlock()
	if keyed != 0 || bare != 16*20*2+3 {
		t.Fatalf("the server received %d writes with an automatic idempotency key and %d without; want 0 and %d", keyed, bare, 16*20*2+3)
	}
	if _, err := c.Put(ctx, "mine", []byte("v"), norikv.WithIdempotencyKey("caller-key")); err != nil {
		t.Fatal(err)
	}
	seen.mu.Lock()
	defer seen.mu.Unlock()
	if seen.keyed != 1 {
		t.Fatalf("a caller's idempotency key did not reach the server (%d keyed writes)", seen.keyed)
	}
	if st := c.Stats().Requests; st.AutoKeyed != 0 || st.Unkeyed != uint64(bare) {
		t.Fatalf("Stats: %d auto-keyed, %d unkeyed; want 0 and %d", st.AutoKeyed, st.Unkeyed, bare)
	}
}

// Against a server without sessions, a write whose reply is lost after it
// was applied is not retried (it carries no key): the caller gets
// ErrOutcomeUnknown, and the write was applied once. Alone and in a batch.
func TestOldServerLostReplyIsOutcomeUnknown(t *testing.T) {
	// One leader for every shard, so a MultiPut is one Kv.Batch.
	cl := startCluster(t, norikvtest.WithShards(4), norikvtest.WithLeader("n1"), norikvtest.WithDefects(server.Defects{NoSessions: true}))
	var lose atomic.Bool
	cl.SetFaults(func(_ context.Context, _, proc string, _ any) error {
		if (proc == norikvv1connect.KvPutProcedure || proc == norikvv1connect.KvBatchProcedure) && lose.CompareAndSwap(true, false) {
			return server.AfterApply(connect.NewError(connect.CodeUnavailable, errors.New("reply lost")))
		}
		return nil
	})
	c := newTestClient(t, cl, protocolCase{})
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	lose.Store(true)
	_, err := c.Put(ctx, "k", []byte("v"))
	if !errors.Is(err, norikv.ErrOutcomeUnknown) {
		t.Fatalf("Put with its reply lost: %v, want ErrOutcomeUnknown", err)
	}
	if n := cl.Stats().Puts; n != 1 {
		t.Fatalf("server applied %d puts, want 1", n)
	}
	// In a batch: every write of the exchange is an unknown outcome, none
	// sent again.
	lose.Store(true)
	_, err = c.MultiPut(ctx, []norikv.KeyValue{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}})
	var be *norikv.BatchError
	if !errors.As(err, &be) || !errors.Is(be.Errs[0], norikv.ErrOutcomeUnknown) || !errors.Is(be.Errs[1], norikv.ErrOutcomeUnknown) {
		t.Fatalf("MultiPut with its reply lost: %v, want ErrOutcomeUnknown for both", err)
	}
	if n := cl.Stats().Puts; n != 3 {
		t.Fatalf("server applied %d puts, want 3", n)
	}
	// A caller's key makes the write safe to retry: it succeeds, once.
	lose.Store(true)
	if _, err := c.Put(ctx, "k", []byte("v2"), norikv.WithIdempotencyKey("mine-1")); err != nil {
		t.Fatal(err)
	}
	if n := cl.Stats().Puts; n != 4 {
		t.Fatalf("server applied %d puts, want 4", n)
	}
}

// With sessions, the observer sees each write's automatic key, and
// without, that it went unkeyed.
func TestObserverSeesKeying(t *testing.T) {
	for _, old := range []bool{false, true} {
		cl := startCluster(t, norikvtest.WithShards(4), norikvtest.WithDefects(server.Defects{NoSessions: old}))
		obs := &keyingObserver{}
		cfg := norikv.Config{Nodes: cl.Endpoints(), TotalShards: cl.Shards(), Observer: obs, DisableAutoBatch: true}
		c, err := norikv.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Connect(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := range 5 {
			if _, err := c.Put(context.Background(), fmt.Sprint("k", i), []byte("v")); err != nil {
				t.Fatal(err)
			}
		}
		c.Close()
		stamped, unkeyed := obs.stamped.Load(), obs.unkeyed.Load()
		if old && (stamped != 0 || unkeyed != 5) || !old && (stamped != 5 || unkeyed != 0) {
			t.Errorf("old server %v: observer saw %d stamped, %d unkeyed writes", old, stamped, unkeyed)
		}
	}
}

type keyingObserver struct {
	norikv.BaseObserver
	stamped, unkeyed atomic.Int32
}

func (o *keyingObserver) CallEnd(_ context.Context, c *interceptors.Call) {
	if c.IdempotencyKeyStamped {
		o.stamped.Add(1)
	}
	if c.Unkeyed {
		o.unkeyed.Add(1)
	}
}
