package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	consolev1 "github.com/norikv/norikv-go/gen/norikv/console/v1"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/loadgen"
	"github.com/norikv/norikv-go/internal/loadgen/targets"
	"github.com/norikv/norikv-go/internal/routing"
)

// This file is the console's load generator: internal/loadgen's workers
// (the engine of `norikv bench`) in the server process, calling the nodes
// over loopback through the generated Kv client as an SDK would: each
// call to its shard's leader in the current view, a key on every write,
// retried after UNAVAILABLE (a stopped node, NOT_LEADER) against the view
// that replaced it. The server does not import the SDK (client/ sits
// above it), so this is the small in-server equivalent.

const (
	loadDefaultWorkers = 4
	loadDefaultOps     = 500
	// loadMaxRun stops a generator left running, so a forgotten tab does
	// not load a development machine all day.
	loadMaxRun = 10 * time.Minute
	// loadAttempts bounds one operation's tries.
	loadAttempts = 3
)

// consoleLoad is the cluster's one load generator.
type consoleLoad struct {
	k *console

	mu      sync.Mutex
	cancel  context.CancelFunc // nil when stopped
	done    chan struct{}      // closed when the run ended
	workers int
	rate    int

	ops, errs atomic.Uint64
}

// start starts the generator (stopping a running one first) with
// workers paced to rate operations a second in total.
func (l *consoleLoad) start(workers, rate int) error {
	if workers <= 0 {
		workers = loadDefaultWorkers
	}
	if rate <= 0 {
		rate = loadDefaultOps
	}
	l.stop()
	c := l.k.c
	t, err := newLoadTarget(c, rate, &l.ops, &l.errs)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.isClosed() {
		t.close()
		return errClosed
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	l.cancel, l.done, l.workers, l.rate = cancel, done, workers, rate
	l.ops.Store(0)
	l.errs.Store(0)
	go func() {
		defer close(done)
		defer t.close()
		_, err := loadgen.Run(ctx, t, loadgen.Config{
			Concurrency: workers, Duration: loadMaxRun, ValueSize: 64, Keys: 10_000,
			KeyPrefix: "console-load-", ReadRatio: 0.5, Dist: loadgen.Zipf,
		})
		l.mu.Lock()
		ended := l.done == done && l.cancel != nil // by itself, not by stop
		if ended {
			l.cancel()
			l.cancel = nil
		}
		l.mu.Unlock()
		if ended {
			l.k.notef("load generator off after %v (%d operations, %d failed)", loadMaxRun, l.ops.Load(), l.errs.Load())
		}
		if err != nil {
			c.cfg.Logger.Warn("norikv console: load generator", "err", err)
		}
	}()
	l.k.notef("load generator on: %d workers, %d ops/s", workers, rate)
	return nil
}

// stop stops a running generator and waits for its workers.
func (l *consoleLoad) stop() {
	l.mu.Lock()
	cancel, done := l.cancel, l.done
	l.cancel = nil
	l.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	<-done
	l.k.notef("load generator off after %d operations (%d failed)", l.ops.Load(), l.errs.Load())
}

func (l *consoleLoad) state() *consolev1.Load {
	l.mu.Lock()
	defer l.mu.Unlock()
	return &consolev1.Load{
		Running: l.cancel != nil, Workers: uint32(l.workers), TargetOps: uint32(l.rate),
		Ops: l.ops.Load(), Errors: l.errs.Load(),
	}
}

// loadTarget is a loadgen.Target calling the cluster's nodes: one
// generated Kv client per node, routed by the current view.
type loadTarget struct {
	c       *Cluster
	tr      *http.Transport
	clients map[string]norikvv1connect.KvClient // node id →
	every   time.Duration                       // between two operations, all workers together

	mu   sync.Mutex
	next time.Time // the next operation's slot

	ops, errs *atomic.Uint64
}

func newLoadTarget(c *Cluster, rate int, ops, errs *atomic.Uint64) (*loadTarget, error) {
	scheme, protocol := "http://", "grpc"
	if c.cfg.TLSConfig != nil {
		scheme, protocol = "https://", "connect"
	}
	tr, opts, err := targets.RawTransport(protocol)
	if err != nil {
		return nil, err
	}
	if c.cfg.TLSConfig != nil {
		// The generator dials this process's own listeners, whose
		// certificate may name any host: there is nobody to verify.
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12} //nolint:gosec // own listeners
	}
	if c.cfg.Token != "" {
		opts = append(opts, connect.WithInterceptors(bearer(c.cfg.Token)))
	}
	t := &loadTarget{c: c, tr: tr, clients: map[string]norikvv1connect.KvClient{},
		every: time.Second / time.Duration(rate), ops: ops, errs: errs}
	hc := &http.Client{Transport: tr}
	for _, n := range c.nodes {
		t.clients[n.id] = norikvv1connect.NewKvClient(hc, scheme+n.addr, opts...)
	}
	return t, nil
}

func (t *loadTarget) close() { t.tr.CloseIdleConnections() }

// bearer adds the cluster's token to every call.
func bearer(token string) connect.UnaryInterceptorFunc {
	return func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	}
}

// pace waits for the next operation's slot. A generator held up (by a
// slow node) does not burst to catch up.
func (t *loadTarget) pace(ctx context.Context) error {
	t.mu.Lock()
	now := time.Now()
	if t.next.Before(now) {
		t.next = now
	}
	at := t.next
	t.next = t.next.Add(t.every)
	t.mu.Unlock()
	if d := time.Until(at); d > 0 {
		timer := time.NewTimer(d)
		defer timer.Stop()
		select {
		case <-timer.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// do runs one operation on the leader of key's shard, again (up to
// loadAttempts, briefly backed off) after a retryable failure, against
// the view of that moment.
func (t *loadTarget) do(ctx context.Context, key string, call func(norikvv1connect.KvClient) error) error {
	if err := t.pace(ctx); err != nil {
		return err
	}
	var err error
	for attempt := range loadAttempts {
		if attempt > 0 {
			select {
			case <-time.After(time.Duration(attempt) * 20 * time.Millisecond):
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		view := t.c.views.load().view
		leader := shardLeader(view.GetShards()[routing.ShardString(key, len(view.GetShards()))])
		cl := t.clients[leader]
		if cl == nil {
			err = errors.New("shard has no leader")
			continue
		}
		if err = call(cl); err == nil || ctx.Err() != nil {
			break
		}
		if code := connect.CodeOf(err); code != connect.CodeUnavailable && code != connect.CodeResourceExhausted && code != connect.CodeUnknown {
			break
		}
	}
	if ctx.Err() == nil {
		t.ops.Add(1)
		if err != nil {
			t.errs.Add(1)
		}
	}
	return err
}

func (t *loadTarget) Put(ctx context.Context, key string, value []byte) error {
	var idem [16]byte
	_, _ = rand.Read(idem[:])
	req := &v1.PutRequest{Key: []byte(key), Value: value, IdempotencyKey: hex.EncodeToString(idem[:])}
	return t.do(ctx, key, func(cl norikvv1connect.KvClient) error {
		_, err := cl.Put(ctx, req)
		return err
	})
}

func (t *loadTarget) Get(ctx context.Context, key string) (bool, error) {
	found := false
	err := t.do(ctx, key, func(cl norikvv1connect.KvClient) error {
		res, err := cl.Get(ctx, &v1.GetRequest{Key: []byte(key)})
		found = res.GetVersion() != nil
		return err
	})
	return found, err
}
