package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

// node is one server of the cluster: an HTTP server on its own port whose
// handlers consult the shared shard table before serving.
type node struct {
	c       *Cluster
	idx     int
	id      string
	addr    string // fixed once the node first listens
	handler http.Handler

	life sync.Mutex // serialises start/stop of this node
	up   bool       // guarded by life and Cluster.topoMu (either to read)
	inc  atomic.Pointer[incarnation]

	inflight atomic.Int64 // requests being served, so stop can wait
	calls    atomic.Int64 // unary calls received (Cluster.Calls)
	role     string       // the view's role override (SetRole); guarded by Cluster.topoMu

	health  *nodeHealth    // grpc.health.v1 (health.go)
	metrics requestMetrics // for /metrics (metrics.go)
}

// incarnation is one run of a node's HTTP server, between a start and a
// stop. Streams watch stopped to end with it.
type incarnation struct {
	srv     *http.Server
	stopped chan struct{}
	served  chan struct{}
}

func newNode(c *Cluster, idx int) *node {
	n := &node{c: c, idx: idx, id: fmt.Sprintf("n%d", idx+1)}
	n.handler = n.routes()
	return n
}

// routes mounts the four services with the options every handler shares.
func (n *node) routes() http.Handler {
	c := n.c
	// The bearer token is checked before any of these (gateToken).
	interceptors := []connect.Interceptor{metricsInterceptor{&n.metrics}, &faultInterceptor{n: n}, &validateInterceptor{}}
	opts := []connect.HandlerOption{
		connect.WithInterceptors(interceptors...),
		// Refuse oversized bodies before buffering them.
		connect.WithReadMaxBytes(MaxRequestBytes),
		connect.WithCompressMinBytes(compressMinBytes),
		connect.WithRecover(func(_ context.Context, spec connect.Spec, _ http.Header, p any) error {
			c.cfg.Logger.Error("norikv handler panic", "node", n.id, "procedure", spec.Procedure, "panic", p)
			return connect.NewError(connect.CodeInternal, fmt.Errorf("internal error"))
		}),
	}
	mux := http.NewServeMux()
	services := map[string]http.Handler{}
	mount := func(prefix string, h http.Handler) {
		mux.Handle(prefix, h)
		services[prefix] = h
	}
	mount(norikvv1connect.NewKvHandler(&kvService{c: c, node: n.idx}, opts...))
	mount(norikvv1connect.NewMetaHandler(&metaService{c: c, n: n}, opts...))
	mount(norikvv1connect.NewAdminHandler(&adminService{c: c}, opts...))
	mount(norikvv1connect.NewVectorHandler(&vectorService{c: c, node: n.idx}, opts...))
	n.mountIntrospection(mount, opts)
	n.mountConsole(mount)
	h := n.browser(mux, n.gateToken(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.inflight.Add(1)
		defer n.inflight.Add(-1)
		// connect refuses a message over MaxRequestBytes without buffering
		// it, but then drains the rest of the body; this bounds the drain
		// too, so a 100 MiB upload is cut off near the cap.
		r.Body = http.MaxBytesReader(w, r.Body, maxBodyBytes)
		if h := services[serviceOf(r)]; h != nil {
			h.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})))
	if c.cfg.GRPCOnly {
		h = grpcOnly(h) // outermost: refused traffic reaches nothing else
	}
	return h
}

// serviceOf returns the "/package.Service/" prefix of a plain RPC path
// ("/norikv.v1.Kv/Put"), or "" for anything else. Requests it names go
// straight to their service's handler: ServeMux's matching costs about
// three allocations and a tenth of a small request's handling. Paths it
// does not vouch for (escaped, unclean, CONNECT, other shapes) go through
// the ServeMux, which keeps its cleaning, redirects and 404s.
func serviceOf(r *http.Request) string {
	p := r.URL.Path
	if r.Method == http.MethodConnect || r.URL.RawPath != "" || len(p) < 2 || p[0] != '/' {
		return ""
	}
	i := strings.IndexByte(p[1:], '/') + 1
	if i <= 1 {
		return ""
	}
	method := p[i+1:]
	if method == "" || method == "." || method == ".." || strings.IndexByte(method, '/') >= 0 {
		return ""
	}
	return p[:i+1]
}

// readHeaderTimeout bounds how long a client may take to send a request's
// headers (slow-header attacks); a variable so tests can shorten it.
var readHeaderTimeout = 10 * time.Second

// maxConcurrentStreams bounds the HTTP/2 streams one connection may have
// open at once (net/http's default, stated).
const maxConcurrentStreams = 250

// start listens on the node's address (an ephemeral port the first time if
// none was configured) and serves until stop.
func (n *node) start() error {
	cfg := n.c.cfg
	addr := n.addr
	if addr == "" {
		addr = net.JoinHostPort(cfg.Host, "0")
	}
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", addr)
	if err != nil {
		return fmt.Errorf("server: node %s: %w", n.id, err)
	}
	if n.addr == "" {
		// First start on an ephemeral port. A restart reuses the address
		// and must not write it: handlers read it without locks.
		n.addr = ln.Addr().String()
	}
	srv := &http.Server{
		Handler:           n.handler,
		ReadHeaderTimeout: readHeaderTimeout,
		// Stated, not left to net/http's default, because the attack
		// table (attack_test.go) checks it is enforced.
		HTTP2:     &http.HTTP2Config{MaxConcurrentStreams: maxConcurrentStreams},
		ErrorLog:  slog.NewLogLogger(cfg.Logger.Handler(), slog.LevelDebug),
		Protocols: new(http.Protocols),
	}
	// One port serves gRPC (needs HTTP/2), gRPC-Web and Connect (HTTP/1.1
	// or HTTP/2): h2c when plaintext, ALPN-negotiated h2 with TLS.
	// In gRPC-only mode TLS offers h2 alone (ALPN), as tonic does; in
	// cleartext HTTP/1.1 stays on so grpcOnly can refuse it the way an
	// HTTP/2-only server does, with HTTP/2 frames (grpconly.go).
	srv.Protocols.SetHTTP1(cfg.TLSConfig == nil || !cfg.GRPCOnly)
	if cfg.TLSConfig != nil {
		srv.Protocols.SetHTTP2(true)
		srv.TLSConfig = cfg.TLSConfig.Clone()
	} else {
		srv.Protocols.SetUnencryptedHTTP2(true)
	}
	inc := &incarnation{srv: srv, stopped: make(chan struct{}), served: make(chan struct{})}
	go func() {
		defer close(inc.served)
		if cfg.TLSConfig != nil {
			_ = srv.ServeTLS(ln, "", "")
		} else {
			_ = srv.Serve(ln)
		}
	}()
	n.inc.Store(inc)
	return nil
}

// stop closes the listener and every connection, ends the node's streams
// and waits (briefly) for handlers in flight. Caller holds n.life.
func (n *node) stop() {
	inc := n.inc.Swap(nil)
	if inc == nil {
		return
	}
	watched := n.health.drain()
	close(inc.stopped)
	if watched {
		ctx, cancel := context.WithTimeout(context.Background(), watchersFlushGrace)
		_ = inc.srv.Shutdown(ctx) // then Close cuts what is left
		cancel()
	}
	_ = inc.srv.Close()
	<-inc.served
	// Close does not wait for handlers; give them a moment so a stopped
	// node leaves no goroutines behind.
	for deadline := time.Now().Add(5 * time.Second); n.inflight.Load() > 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
}

// shutdown is stop, but lets requests in flight finish until ctx is done.
// Caller holds n.life.
func (n *node) shutdown(ctx context.Context) error {
	inc := n.inc.Swap(nil)
	if inc == nil {
		return nil
	}
	n.health.drain()
	close(inc.stopped) // streams end first, or Shutdown would wait for them
	err := inc.srv.Shutdown(ctx)
	if err != nil {
		_ = inc.srv.Close()
	}
	<-inc.served
	return err
}

// stopped returns a channel closed when the node's current run ends (an
// already closed one if it is not running).
func (n *node) stopped() <-chan struct{} {
	if inc := n.inc.Load(); inc != nil {
		return inc.stopped
	}
	return closedChan
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()
