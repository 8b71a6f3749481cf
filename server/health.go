package server

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

// Every node serves grpc.health.v1 and server reflection beside NoriKV's
// services, so `grpcurl -plaintext host:port list` and `buf curl` work
// without the schema and load balancers can probe it.

// serviceNames are the services reflection describes.
var serviceNames = []string{
	norikvv1connect.KvName,
	norikvv1connect.MetaName,
	norikvv1connect.AdminName,
	norikvv1connect.VectorName,
	grpchealth.HealthV1ServiceName,
}

// drainTimeout bounds how long a stopping node waits for its health
// watchers to be sent NOT_SERVING.
const drainTimeout = time.Second

// watchersFlushGrace is how long a node stopped as if it crashed, that
// had health watchers, closes its connections gracefully (GOAWAY, write
// buffers flushed) before cutting them: long enough for the NOT_SERVING
// frames drain queued to reach the wire. Without it a loaded machine cut
// them in 16 of 300 runs of TestHealthWatchNotServingBeforeStop.
const watchersFlushGrace = 100 * time.Millisecond

// nodeHealth is a node's health checker: SERVING while the node runs,
// NOT_SERVING from the moment it starts stopping. Its Watch streams are
// sent NOT_SERVING before the node's port closes (drain).
type nodeHealth struct {
	n       *node
	mu      sync.Mutex
	watches map[*healthWatch]struct{}
}

// healthWatch is one Watch stream.
type healthWatch struct {
	onChange func()
	mu       sync.Mutex
	checked  bool          // a NOT_SERVING status was computed for it
	sent     chan struct{} // closed once that status was flushed
	once     sync.Once
}

type healthWatchKey struct{}

// mountIntrospection mounts the health and reflection services. Health
// goes without the node's interceptors but metrics (a load balancer probes
// it without a token); reflection keeps them all, since the schema is the
// cluster's.
func (n *node) mountIntrospection(mount func(string, http.Handler), opts []connect.HandlerOption) {
	n.health = &nodeHealth{n: n, watches: map[*healthWatch]struct{}{}}
	path, h := grpchealth.NewHandler(n.health, connect.WithReadMaxBytes(MaxRequestBytes),
		connect.WithInterceptors(metricsInterceptor{&n.metrics}))
	mount(path, n.health.wrap(h))
	reflector := grpcreflect.NewStaticReflector(serviceNames...)
	mount(grpcreflect.NewHandlerV1(reflector, opts...))
	mount(grpcreflect.NewHandlerV1Alpha(reflector, opts...))
}

// Check implements grpchealth.Checker, for the whole node ("") and each
// of its services.
func (h *nodeHealth) Check(ctx context.Context, req *grpchealth.CheckRequest) (*grpchealth.CheckResponse, error) {
	if req.Service != "" && !knownService(req.Service) {
		return nil, connect.NewError(connect.CodeNotFound, errUnknownService(req.Service))
	}
	if h.n.inc.Load() != nil {
		return &grpchealth.CheckResponse{Status: grpchealth.StatusServing}, nil
	}
	if w, ok := ctx.Value(healthWatchKey{}).(*healthWatch); ok {
		w.mu.Lock()
		w.checked = true
		w.mu.Unlock()
	}
	return &grpchealth.CheckResponse{Status: grpchealth.StatusNotServing}, nil
}

// Watch implements grpchealth.Watcher.
func (h *nodeHealth) Watch(ctx context.Context, req *grpchealth.CheckRequest, onChange func()) (func(), error) {
	if req.Service != "" && !knownService(req.Service) {
		return nil, connect.NewError(connect.CodeNotFound, errUnknownService(req.Service))
	}
	w, ok := ctx.Value(healthWatchKey{}).(*healthWatch)
	if !ok {
		return func() {}, nil
	}
	w.onChange = onChange
	h.mu.Lock()
	h.watches[w] = struct{}{}
	h.mu.Unlock()
	return func() {
		h.mu.Lock()
		delete(h.watches, w)
		h.mu.Unlock()
	}, nil
}

// drain tells every Watch stream that the node is going (its incarnation
// is already gone, so Check says NOT_SERVING) and waits, within
// drainTimeout, until each was sent that status. Called by stop and
// shutdown before they close the streams and the port. It reports
// whether there was any stream to tell.
//
// "Sent" is as far as a handler can see: HTTP/2's Flush returns once the
// frame is in the connection's write buffer, not on the wire, so stop
// closes connections gracefully for a moment after a drain
// (watchersFlushGrace).
func (h *nodeHealth) drain() bool {
	h.mu.Lock()
	ws := make([]*healthWatch, 0, len(h.watches))
	for w := range h.watches {
		ws = append(ws, w)
	}
	h.mu.Unlock()
	if len(ws) == 0 {
		return false
	}
	timeout := time.NewTimer(drainTimeout)
	defer timeout.Stop()
	// Wake them all first, so their sends overlap rather than queue.
	for _, w := range ws {
		w.onChange()
	}
	for _, w := range ws {
		select {
		case <-w.sent:
		case <-timeout.C:
			return true
		}
	}
	return true
}

// wrap gives each Watch stream its healthWatch and ends it when the node
// stops; the flush after a NOT_SERVING check marks it sent.
func (h *nodeHealth) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasSuffix(r.URL.Path, "/Watch") {
			next.ServeHTTP(w, r)
			return
		}
		hw := &healthWatch{sent: make(chan struct{})}
		ctx, cancel := context.WithCancel(context.WithValue(r.Context(), healthWatchKey{}, hw))
		defer cancel()
		stopped := h.n.stopped()
		go func() {
			select {
			case <-stopped:
				cancel()
			case <-ctx.Done():
			}
		}()
		next.ServeHTTP(&flushWatcher{ResponseWriter: w, w: hw}, r.WithContext(ctx))
	})
}

// flushWatcher closes its watch's sent channel on the first flush after a
// NOT_SERVING check: connect flushes each streamed message.
type flushWatcher struct {
	http.ResponseWriter
	w *healthWatch
}

func (f *flushWatcher) Flush() {
	if fl, ok := f.ResponseWriter.(http.Flusher); ok {
		fl.Flush()
	}
	f.w.mu.Lock()
	checked := f.w.checked
	f.w.mu.Unlock()
	if checked {
		f.w.once.Do(func() { close(f.w.sent) })
	}
}

func (f *flushWatcher) Unwrap() http.ResponseWriter { return f.ResponseWriter }

func knownService(name string) bool {
	return slices.Contains(serviceNames, name)
}

type errUnknownService string

func (e errUnknownService) Error() string { return "unknown service " + string(e) }
