package norikv

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/interceptors"
	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/topology"
)

// Client is a NoriKV client. It is safe for concurrent use; share one per
// cluster.
type Client struct {
	cfg   Config
	log   *slog.Logger
	topo  *topology.Manager
	retry *interceptors.Retry
	// session numbers the writes given automatic keys (session.go).
	session *interceptors.Session
	dialer  *countingDialer
	tr      *http.Transport
	// router is topo as the interceptors see it; batches route with it.
	router interceptors.Router
	// noBatch holds the nodes (host:port) that answered Kv.Batch
	// UNIMPLEMENTED: their operations go as single calls (exchange.go).
	noBatch sync.Map
	// getSize estimates a read's value size, learnt from batches' answers,
	// so batches are cut by their answer's size too (exchange.go: fit).
	getSize atomic.Int64
	// batcher queues concurrent single calls per node (batcher.go); nil
	// with Config.DisableAutoBatch.
	batcher *batcher
	// hedger hedges stale_ok Gets (hedge.go).
	hedger *hedger
	// batchKV sends Kv.Batch (exchange.go): operations are validated one by
	// one before they are batched, and answers are not compressed.
	batchKV norikvv1connect.KvClient

	// obsCalls and obsAttempts are Config.Observer's interceptors (nil
	// without one): observer.go.
	obsCalls, obsAttempts connect.Interceptor

	kv   norikvv1connect.KvClient
	vec  norikvv1connect.VectorClient
	meta norikvv1connect.MetaClient

	// ctx is cancelled by Close; every call runs under it (callCtx).
	ctx    context.Context
	cancel context.CancelFunc

	startOnce sync.Once
	closed    atomic.Bool
	closeOnce sync.Once
}

var _ API = (*Client)(nil)

// New validates cfg and returns a Client. It does no I/O: connections
// open on the first call (or Connect), and the cluster watch starts then.
func New(cfg Config) (*Client, error) {
	seeds, useTLS, err := cfg.validate()
	if err != nil {
		// A typed error like every other: callers can errors.As it and
		// read the code, and the message names the field.
		e := interceptors.NewError(connect.CodeInvalidArgument, strings.TrimPrefix(err.Error(), "norikv: "), nil, err)
		e.Operation = "New"
		return nil, e
	}
	c := &Client{cfg: cfg, log: cfg.Logger, dialer: &countingDialer{}}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.tr = newTransport(&cfg, useTLS, c.dialer)
	plain := &http.Client{Transport: c.dialer.tracked(c.tr)}
	var httpClient connect.HTTPClient = plain
	if cfg.BearerToken != "" {
		httpClient = authHTTPClient{base: plain, value: []string{"Bearer " + cfg.BearerToken}}
	}
	httpClient = interceptors.NewHTTPClient(httpClient)

	c.session = interceptors.NewSession(c.sessionsEnabled)
	r := cfg.Retry
	c.retry = interceptors.NewRetry(interceptors.RetryPolicy{
		MaxAttempts:    r.MaxAttempts,
		InitialDelay:   r.InitialDelay,
		MaxDelay:       r.MaxDelay,
		Jitter:         r.Jitter,
		Timeout:        cfg.timeout(),
		AttemptTimeout: cfg.attemptTimeout(),
		MaxRedirects:   r.MaxRedirects,
		BudgetRatio:    r.BudgetRatio,
		BudgetFloor:    r.BudgetFloor,
		Session:        c.session,
	})
	seedTimeout := cfg.attemptTimeout()
	if seedTimeout == 0 {
		seedTimeout = DefaultTimeout / 4
	}
	// The watch reconnects under its own policy, backoff.WatchReconnect,
	// not Config.Retry's: call retries and watch reconnects are tuned and
	// reported apart (Stats.Backoff).
	c.topo = topology.New(topology.Config{
		Seeds:             seeds,
		TotalShards:       cfg.TotalShards,
		Watch:             c.watch,
		NoBackgroundWatch: cfg.DisableWatch,
		SeedTimeout:       seedTimeout,
		Logger:            c.log,
	})
	c.router = c.topo
	c.topo.SetRoundRobinReplicas(cfg.StaleReads.RoundRobin)
	c.hedger = newHedger(cfg.StaleReads)
	if !cfg.DisableAutoBatch {
		c.batcher = newBatcher(c)
	}

	opts := []connect.ClientOption{
		// Small requests are sent uncompressed: compressing a 100-byte Put
		// costs more than it saves.
		connect.WithCompressMinBytes(1024),
	}
	switch cfg.Protocol {
	case ProtocolGRPC:
		opts = append(opts, connect.WithGRPC())
	case ProtocolGRPCWeb:
		opts = append(opts, connect.WithGRPCWeb())
	}
	if cfg.JSON {
		opts = append(opts, connect.WithProtoJSON())
	}
	c.observe()
	chain := append(c.observed([]connect.Interceptor{
		interceptors.Errors(),
		interceptors.Validate(),
		c.retry,
		interceptors.Routing(c.topo),
	}), cfg.Interceptors...)
	callOpts := append(slices.Clip(opts), connect.WithInterceptors(chain...))

	scheme := "http://"
	if useTLS {
		scheme = "https://"
	}
	base := scheme + seeds[0]
	// The read limit (kvReadMaxBytes) on Kv answers only: vector search
	// answers are sized by their request's top_k.
	kvLimit := connect.WithReadMaxBytes(kvReadMaxBytes)
	c.kv = norikvv1connect.NewKvClient(httpClient, base, append(slices.Clip(callOpts), kvLimit)...)
	c.batchKV = newBatchClient(httpClient, base, append(slices.Clip(opts), kvLimit), c.observed([]connect.Interceptor{interceptors.Errors(), c.retry, interceptors.Routing(c.topo)}), cfg.Interceptors)
	c.vec = norikvv1connect.NewVectorClient(httpClient, base, callOpts...)
	// The watch stream gets no retry/routing interceptors: it picks its
	// node itself and reconnects on its own schedule.
	c.meta = norikvv1connect.NewMetaClient(httpClient, base, opts...)
	return c, nil
}

// start begins background work on first use.
func (c *Client) start() { c.startOnce.Do(c.topo.Start) }

// Connect eagerly fetches the cluster view, so the first calls go straight
// to shard leaders, and checks the shard count against it (after Connect,
// ShardForKey is right). It is optional: calls work without it, going to
// seed nodes until the view is known. It asks every seed at once, so one
// that hangs costs nothing while another answers. Seeds that all answer
// with an error (nothing listening, a bad token) end it at once; a seed
// that has not answered within RetryConfig.AttemptTimeout is asked again,
// with twice the time (up to 8×), until ctx ends, since a busy host can be
// that slow. It returns nil at once
// if the cluster does not serve Meta (such servers still serve calls)
// when Config.TotalShards is set; with TotalShards 0 that is an
// INVALID_ARGUMENT error, as the count cannot be learnt. Without a ctx
// deadline it waits at most Config.Timeout.
func (c *Client) Connect(ctx context.Context) error {
	if c.closed.Load() {
		return closedError("Connect")
	}
	if _, ok := ctx.Deadline(); !ok && c.cfg.timeout() > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.cfg.timeout())
		defer cancel()
	}
	if c.cfg.DisableWatch {
		if err := c.fetchOnce(ctx); err != nil {
			return err
		}
	} else {
		c.start()
		if err := c.topo.WaitReady(ctx); err != nil {
			return asError(ctx, "Connect", err)
		}
	}
	if err := c.topo.ShardsErr(); err != nil {
		return asError(ctx, "Connect", err)
	}
	return nil
}

// kvReadMaxBytes bounds a Kv answer the client reads. A Get's value is at
// most 1 MiB, and a Kv.Batch answer carries at most
// wire.BatchMaxAnswerBytes of values (past its first read's): 16 MiB
// leaves room for metadata and JSON's base64, while a server that ignores
// the limits cannot make the client allocate without bound.
const kvReadMaxBytes = 16 << 20

// enter is the preamble of every call: refuse once closed, start the
// background watch on first use, and return ctx joined to the client's
// lifetime (callCtx) with the function that releases it.
func (c *Client) enter(ctx context.Context, op string) (context.Context, func(), error) {
	if c.closed.Load() {
		return nil, nil, closedError(op)
	}
	c.start()
	cctx, done := c.callCtx(ctx)
	return cctx, done, nil
}

// fetchOnce reads one view, asking every seed at once.
func (c *Client) fetchOnce(ctx context.Context) error {
	err := c.topo.FetchOnce(ctx)
	if err == nil || connect.CodeOf(err) == connect.CodeUnimplemented {
		return nil
	}
	return asError(ctx, "Connect", err)
}

// watch streams Meta.WatchCluster from the node at addr.
func (c *Client) watch(ctx context.Context, addr string, onView func(*v1.ClusterView)) error {
	stream, err := c.meta.WatchCluster(interceptors.WithTarget(ctx, addr), &v1.ClusterView{})
	if err == nil {
		defer stream.Close()
		for stream.Receive() {
			onView(stream.Msg())
		}
		err = stream.Err()
	}
	// A node that does not speak the configured protocol says so once,
	// and Connect returns it, rather than a reconnect loop of UNAVAILABLE.
	if pm := interceptors.ProtocolMismatch(c.cfg.Protocol.connectName(), addr, err); pm != nil {
		return pm
	}
	return err
}

// Close cancels every call in flight, stops the cluster watch and event
// delivery, waits for their goroutines and closes every connection the
// client opened (one still being dialled is closed as it connects). Calls
// in flight and calls after Close return an error matching ErrClosed.
// Close is idempotent and always returns nil.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.cancel()
		c.topo.Close()
		if c.batcher != nil {
			c.batcher.wg.Wait()
		}
		c.tr.CloseIdleConnections()
		c.dialer.closeAll()
	})
	return nil
}

// ShardForKey returns key's shard: jump(xxhash64(key), shard count), the
// same on every NoriKV server and SDK. With Config.TotalShards 0 the count
// is the cluster's, known after Connect (or the first call); before that
// ShardForKey returns -1.
func (c *Client) ShardForKey(key string) int {
	n := c.topo.TotalShards()
	if n == 0 {
		return -1
	}
	return routing.ShardString(key, n)
}
