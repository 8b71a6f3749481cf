package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

// Prometheus metrics of the cluster, written in the text exposition format
// by hand: the format is a few lines, and the Prometheus client would add
// a dozen modules to every user of the library.

// metricProcedures are the RPCs counted by name; anything else counts as
// "other". A fixed table keeps counting free of locks and allocations; it
// is an array so requestMetrics is sized by it.
var metricProcedures = [...]string{
	norikvv1connect.KvPutProcedure,
	norikvv1connect.KvGetProcedure,
	norikvv1connect.KvDeleteProcedure,
	norikvv1connect.KvBatchProcedure,
	norikvv1connect.MetaWatchClusterProcedure,
	norikvv1connect.AdminTransferShardProcedure,
	norikvv1connect.AdminSnapshotShardProcedure,
	norikvv1connect.VectorCreateIndexProcedure,
	norikvv1connect.VectorDropIndexProcedure,
	norikvv1connect.VectorInsertProcedure,
	norikvv1connect.VectorDeleteProcedure,
	norikvv1connect.VectorSearchProcedure,
	norikvv1connect.VectorGetProcedure,
	"/" + grpchealth.HealthV1ServiceName + "/Check",
	"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
	"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
	"other",
}

var procedureIndex = func() map[string]int {
	m := make(map[string]int, len(metricProcedures))
	for i, p := range metricProcedures {
		m[p] = i
	}
	return m
}()

// latencyBuckets are the histogram's upper bounds, in seconds.
var latencyBuckets = [...]float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

const numCodes = 17 // connect codes 1..16, and 0 for success

// requestMetrics counts one node's requests.
type requestMetrics struct {
	count   [len(metricProcedures)][numCodes]atomic.Uint64                // [procedure][code]
	buckets [len(metricProcedures)][len(latencyBuckets) + 1]atomic.Uint64 // [procedure][bucket]; last is +Inf
	sumNs   [len(metricProcedures)]atomic.Uint64
}

func (m *requestMetrics) record(procedure string, err error, d time.Duration) {
	p, ok := procedureIndex[procedure]
	if !ok {
		p = len(metricProcedures) - 1
	}
	code := 0
	if err != nil {
		code = int(connect.CodeOf(err))
	}
	// A stream the client closed ends with its ctx's error, which
	// connect.CodeOf calls unknown.
	switch {
	case code != int(connect.CodeUnknown):
	case errors.Is(err, context.Canceled):
		code = int(connect.CodeCanceled)
	case errors.Is(err, context.DeadlineExceeded):
		code = int(connect.CodeDeadlineExceeded)
	}
	m.count[p][code].Add(1)
	s := d.Seconds()
	b := sort.SearchFloat64s(latencyBuckets[:], s)
	m.buckets[p][b].Add(1)
	m.sumNs[p].Add(uint64(d))
}

// metricsInterceptor records every RPC a node serves, outermost, so
// refused requests (authentication, validation) count too.
type metricsInterceptor struct{ m *requestMetrics }

func (i metricsInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		start := time.Now()
		res, err := next(ctx, req)
		i.m.record(req.Spec().Procedure, err, time.Since(start))
		return res, err
	}
}

func (metricsInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i metricsInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		start := time.Now()
		err := next(ctx, conn)
		i.m.record(conn.Spec().Procedure, err, time.Since(start))
		return err
	}
}

// MetricsHandler serves the cluster's metrics in the Prometheus text
// format (see WriteMetrics), for a /metrics endpoint.
func (c *Cluster) MetricsHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_ = c.WriteMetrics(w)
	})
}

// WriteMetrics writes the cluster's metrics in the Prometheus text format:
//
//	norikv_requests_total{node,rpc,code}             counter
//	norikv_request_duration_seconds{node,rpc}        histogram
//	norikv_node_up{node}                             gauge, 1 or 0
//	norikv_cluster_epoch                             gauge
//	norikv_shard_leader{shard,node}                  gauge, 1 for the leader (node="" with value 0: none)
//	norikv_keys                                      gauge, keys stored
//	norikv_ttl_heap_size                             gauge, keys with a TTL
//	norikv_idempotency_cache_entries                 gauge
//	norikv_idempotency_cache_evictions_total         counter, keys forgotten early to make room
//	norikv_idempotency_sessions                      gauge, client sessions kept
//	norikv_idempotency_session_answers               gauge, answers sessions retain
//	norikv_idempotency_session_bytes                 gauge, approximate heap bytes of both
//	norikv_idempotency_sessions_expired_total        counter, sessions forgotten after the idle timeout
//	norikv_idempotency_sessions_evicted_total        counter, idle sessions forgotten early to make room
//	norikv_idempotency_session_answers_dropped_total counter, answers dropped past SessionMaxAnswers
//	norikv_idempotency_session_refusals_total        counter, writes refused below their session's watermark
//	norikv_vector_index_vectors{namespace}           gauge
//	norikv_vector_index_bytes{namespace}             gauge
func (c *Cluster) WriteMetrics(out io.Writer) error {
	w := bufio.NewWriter(out)
	header := func(name, kind, help string) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, kind)
	}
	header("norikv_requests_total", "counter", "RPCs served, by node, procedure and code.")
	for _, n := range c.nodes {
		for p, proc := range metricProcedures {
			for code := range numCodes {
				if v := n.metrics.count[p][code].Load(); v > 0 {
					fmt.Fprintf(w, "norikv_requests_total{node=%q,rpc=%q,code=%q} %d\n", n.id, proc, codeLabel(code), v)
				}
			}
		}
	}
	header("norikv_request_duration_seconds", "histogram", "Time to serve an RPC (a stream: its whole life), by node and procedure.")
	for _, n := range c.nodes {
		for p, proc := range metricProcedures {
			var total uint64
			for b := range len(latencyBuckets) + 1 {
				total += n.metrics.buckets[p][b].Load()
			}
			if total == 0 {
				continue
			}
			var cum uint64
			for b, le := range latencyBuckets {
				cum += n.metrics.buckets[p][b].Load()
				fmt.Fprintf(w, "norikv_request_duration_seconds_bucket{node=%q,rpc=%q,le=%q} %d\n", n.id, proc, strconv.FormatFloat(le, 'g', -1, 64), cum)
			}
			fmt.Fprintf(w, "norikv_request_duration_seconds_bucket{node=%q,rpc=%q,le=\"+Inf\"} %d\n", n.id, proc, total)
			fmt.Fprintf(w, "norikv_request_duration_seconds_sum{node=%q,rpc=%q} %g\n", n.id, proc, time.Duration(n.metrics.sumNs[p].Load()).Seconds())
			fmt.Fprintf(w, "norikv_request_duration_seconds_count{node=%q,rpc=%q} %d\n", n.id, proc, total)
		}
	}

	view := c.views.load().view
	header("norikv_node_up", "gauge", "1 while the node serves, 0 when stopped.")
	for _, n := range view.GetNodes() {
		up := 0
		if n.GetRole() != "down" {
			up = 1
		}
		fmt.Fprintf(w, "norikv_node_up{node=%q} %d\n", n.GetId(), up)
	}
	header("norikv_cluster_epoch", "gauge", "Epoch of the current cluster view.")
	fmt.Fprintf(w, "norikv_cluster_epoch %d\n", view.GetEpoch())

	header("norikv_shard_leader", "gauge", "1 for each shard's leader node; node=\"\" with 0 for a shard without one.")
	var keys, ttl int
	type vec struct {
		ns    string
		n     int
		bytes int64
	}
	var vecs []vec
	for _, s := range c.shards {
		s.mu.RLock()
		leader := ""
		if s.leader >= 0 {
			leader = c.nodes[s.leader].id
		}
		keys += len(s.kv)
		ttl += len(s.ttl)
		for name, ns := range s.vectors {
			vecs = append(vecs, vec{name, ns.idx.Len(), ns.idx.MemoryBytes()})
		}
		s.mu.RUnlock()
		v := 1
		if leader == "" {
			v = 0
		}
		fmt.Fprintf(w, "norikv_shard_leader{shard=\"%d\",node=%q} %d\n", s.id, leader, v)
	}
	header("norikv_keys", "gauge", "Keys stored, expired ones not yet reclaimed included.")
	fmt.Fprintf(w, "norikv_keys %d\n", keys)
	header("norikv_ttl_heap_size", "gauge", "Keys with a TTL, waiting in the expiry heaps.")
	fmt.Fprintf(w, "norikv_ttl_heap_size %d\n", ttl)

	entries, evictions := c.idem.metrics()
	header("norikv_idempotency_cache_entries", "gauge", "Idempotency keys remembered.")
	fmt.Fprintf(w, "norikv_idempotency_cache_entries %d\n", entries)
	header("norikv_idempotency_cache_evictions_total", "counter", "Idempotency keys forgotten before their TTL to make room.")
	fmt.Fprintf(w, "norikv_idempotency_cache_evictions_total %d\n", evictions)
	ss := c.SessionStats()
	for _, m := range []struct {
		name, kind, help string
		v                int64
	}{
		{"norikv_idempotency_sessions", "gauge", "Client sessions kept.", int64(ss.Sessions)},
		{"norikv_idempotency_session_answers", "gauge", "Write answers client sessions retain for retries.", int64(ss.Answers)},
		{"norikv_idempotency_session_bytes", "gauge", "Approximate heap bytes of client sessions and their answers.", ss.Bytes},
		{"norikv_idempotency_sessions_expired_total", "counter", "Client sessions forgotten after the idle timeout.", int64(ss.Expired)},
		{"norikv_idempotency_sessions_evicted_total", "counter", "Idle client sessions forgotten early to make room.", int64(ss.Evicted)},
		{"norikv_idempotency_session_answers_dropped_total", "counter", "Answers dropped because a session outgrew SessionMaxAnswers.", int64(ss.Dropped)},
		{"norikv_idempotency_session_refusals_total", "counter", "Writes refused for a sequence below their session's watermark.", int64(ss.Refused)},
	} {
		header(m.name, m.kind, m.help)
		fmt.Fprintf(w, "%s %d\n", m.name, m.v)
	}

	sort.Slice(vecs, func(i, j int) bool { return vecs[i].ns < vecs[j].ns })
	header("norikv_vector_index_vectors", "gauge", "Vectors in each vector index.")
	for _, v := range vecs {
		fmt.Fprintf(w, "norikv_vector_index_vectors{namespace=%q} %d\n", v.ns, v.n)
	}
	header("norikv_vector_index_bytes", "gauge", "Approximate heap bytes of each vector index.")
	for _, v := range vecs {
		fmt.Fprintf(w, "norikv_vector_index_bytes{namespace=%q} %d\n", v.ns, v.bytes)
	}
	return w.Flush()
}

// codeLabel is "ok" or the code's name ("unavailable").
func codeLabel(code int) string {
	if code == 0 {
		return "ok"
	}
	return connect.Code(code).String()
}

// metrics returns the entries remembered and the evictions so far.
func (c *idemCache) metrics() (entries int, evictions uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.len(), c.evictions
}
