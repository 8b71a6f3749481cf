package server

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/wire"
)

// Server-side cost of one Put and one Get, without a network: the node's
// whole http.Handler (connect's Connect-protocol unmarshal, validation,
// the kv service, marshal) served in memory, and the kv service alone.
// allocs/op is the server's allocations per request handled.
//
//	go test -run '^$' -bench 'ServerHandle|ServerKV' -benchmem ./server/

type perfWriter struct {
	h    http.Header
	body bytes.Buffer
	code int
}

func (w *perfWriter) Header() http.Header         { return w.h }
func (w *perfWriter) Write(b []byte) (int, error) { return w.body.Write(b) }
func (w *perfWriter) WriteHeader(code int)        { w.code = code }
func (w *perfWriter) reset() {
	clear(w.h)
	w.body.Reset()
	w.code = 0
}

// perfBody is a rewindable request body, so the benchmark loop allocates
// nothing of its own.
type perfBody struct {
	b []byte
	r bytes.Reader
}

func (p *perfBody) Read(b []byte) (int, error) { return p.r.Read(b) }
func (p *perfBody) Close() error               { return nil }

func perfCluster(b testing.TB) (*Cluster, *node) {
	return perfClusterWith(b, Config{Nodes: 1, Shards: 64})
}

func perfClusterWith(b testing.TB, cfg Config) (*Cluster, *node) {
	c, err := Start(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { c.Close() })
	return c, c.nodes[0]
}

func benchHandle(b *testing.B, procedure string, msg proto.Message) {
	_, n := perfCluster(b)
	body, err := proto.Marshal(msg)
	if err != nil {
		b.Fatal(err)
	}
	// Store the key first so Gets hit.
	put, _ := proto.Marshal(&v1.PutRequest{Key: []byte("bench-key"), Value: bytes.Repeat([]byte("v"), 100)})
	for _, req := range []struct {
		proc string
		body []byte
	}{{norikvv1connect.KvPutProcedure, put}, {procedure, body}} {
		w := serveOnce(b, n, req.proc, &perfBody{b: req.body}, &perfWriter{h: http.Header{}})
		if w.code != 0 && w.code != http.StatusOK {
			b.Fatalf("%s: HTTP %d: %s", req.proc, w.code, w.body.String())
		}
	}
	pb := &perfBody{b: body}
	w := &perfWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		w.reset()
		serveOnce(b, n, procedure, pb, w)
	}
	if w.code != 0 && w.code != http.StatusOK {
		b.Fatalf("HTTP %d: %s", w.code, w.body.String())
	}
}

// perfHeader is shared by every request: handlers only read it.
var perfHeader = http.Header{"Content-Type": {"application/proto"}, "Connect-Protocol-Version": {"1"}}

var perfReq = func() *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://node/", nil)
	return r
}()

func serveOnce(b *testing.B, n *node, procedure string, body *perfBody, w *perfWriter) *perfWriter {
	body.r.Reset(body.b)
	r := *perfReq
	u := *perfReq.URL
	u.Path = procedure
	r.URL = &u
	r.Header = perfHeader
	r.ContentLength = int64(len(body.b))
	r.Body = body
	n.handler.ServeHTTP(w, &r)
	return w
}

func BenchmarkServerHandlePut(b *testing.B) {
	benchHandle(b, norikvv1connect.KvPutProcedure,
		&v1.PutRequest{Key: []byte("bench-key"), Value: bytes.Repeat([]byte("v"), 100)})
}

// BenchmarkServerHandlePutIdem carries an idempotency key, as every SDK
// write does (a fixed key: after the first, every call is a replay).
func BenchmarkServerHandlePutIdem(b *testing.B) {
	benchHandle(b, norikvv1connect.KvPutProcedure,
		&v1.PutRequest{Key: []byte("bench-key"), Value: bytes.Repeat([]byte("v"), 100), IdempotencyKey: "0123456789abcdef0123456789abcdef"})
}

func BenchmarkServerHandleGet(b *testing.B) {
	benchHandle(b, norikvv1connect.KvGetProcedure, &v1.GetRequest{Key: []byte("bench-key")})
}

// The kv service alone, as the handler calls it after unmarshalling.
func BenchmarkServerKVPut(b *testing.B) {
	c, _ := perfCluster(b)
	h := &kvService{c: c, node: 0}
	ctx := context.Background()
	val := bytes.Repeat([]byte("v"), 100)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Put(ctx, &v1.PutRequest{Key: []byte("bench-key"), Value: val}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkServerKVPutIdem: a fresh idempotency key per call, as from the
// SDK (the cache stores each). The cache is kept full, at 15,625 entries
// (the default budget's share of one of 64 shards before the budget became
// the cluster's), with a retry window short enough that every write
// evicts the oldest entry: the steady state of a busy cluster.
func BenchmarkServerKVPutIdem(b *testing.B) {
	c, _ := perfClusterWith(b, Config{Nodes: 1, Shards: 64, IdempotencyMaxEntries: 15_625, IdempotencyRetryWindow: time.Nanosecond})
	h := &kvService{c: c, node: 0}
	ctx := context.Background()
	val := bytes.Repeat([]byte("v"), 100)
	keys := make([]string, 4096)
	for i := range keys {
		keys[i] = "idem-" + strconv.Itoa(i)
	}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		i++
		if _, err := h.Put(ctx, &v1.PutRequest{Key: []byte("bench-key"), Value: val, IdempotencyKey: keys[i%len(keys)] + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkServerKVGet(b *testing.B) {
	c, _ := perfCluster(b)
	h := &kvService{c: c, node: 0}
	ctx := context.Background()
	if _, err := h.Put(ctx, &v1.PutRequest{Key: []byte("bench-key"), Value: []byte("v")}); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Get(ctx, &v1.GetRequest{Key: []byte("bench-key")}); err != nil {
			b.Fatal(err)
		}
	}
}

// The direct dispatch in node.routes takes only plain "/pkg.Service/Method"
// paths; everything else keeps going through the ServeMux.
func TestServiceOf(t *testing.T) {
	for path, want := range map[string]string{
		"/norikv.v1.Kv/Put":          "/norikv.v1.Kv/",
		"/norikv.v1.Meta/Watch":      "/norikv.v1.Meta/",
		"/x/y":                       "/x/",
		"/norikv.v1.Kv/":             "",
		"/norikv.v1.Kv":              "",
		"/norikv.v1.Kv/a/b":          "",
		"/norikv.v1.Kv/..":           "",
		"/norikv.v1.Kv/.":            "",
		"//norikv.v1.Kv/Put":         "",
		"/":                          "",
		"":                           "",
		"norikv.v1.Kv/Put":           "",
		"/norikv.v1.Kv/../Kv/Put":    "",
		"/norikv.v1.Kv/Put/../Get":   "",
		"/norikv.v1.Kv/Put?x=1#frag": "/norikv.v1.Kv/",
	} {
		r, err := http.NewRequest(http.MethodPost, "http://h"+path, nil)
		if err != nil {
			r = &http.Request{Method: http.MethodPost, URL: &url.URL{Path: path}}
		}
		if got := serviceOf(r); got != want {
			t.Errorf("serviceOf(%q) = %q, want %q", path, got, want)
		}
	}
	r, _ := http.NewRequest(http.MethodPost, "http://h/norikv.v1.Kv/P%75t", nil)
	if got := serviceOf(r); got != "" {
		t.Errorf("escaped path: %q, want the ServeMux", got)
	}

	_, n := perfCluster(t)
	for path, code := range map[string]int{
		"/norikv.v1.Kv/Nope":     http.StatusNotFound,
		"/nope.v1.Svc/X":         http.StatusNotFound,
		"/norikv.v1.Kv/./Put":    http.StatusTemporaryRedirect,
		"/norikv.v1.Kv/x/../Put": http.StatusTemporaryRedirect,
	} {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(""))
		r.Header.Set("Content-Type", "application/proto")
		n.handler.ServeHTTP(w, r)
		if w.Code != code {
			t.Errorf("POST %s: %d, want %d", path, w.Code, code)
		}
	}
}

// BenchmarkServerKVPutAutoKey is what a write with the SDK's automatic key
// costs the server: a session key per call (one client, 64 calls in
// flight, so the watermark trails by 64), the answers kept in the
// session's table. Before sessions the automatic key was a random key
// stored in the TTL cache (BenchmarkServerKVPutIdem's steady state).
func BenchmarkServerKVPutAutoKey(b *testing.B) {
	c, _ := perfClusterWith(b, Config{Nodes: 1, Shards: 64})
	h := &kvService{c: c, node: 0}
	ctx := context.Background()
	val := bytes.Repeat([]byte("v"), 100)
	const id = "benchAAAAAAAAAAAAAAAAA"
	var buf [wire.SessionKeyMaxLen]byte
	seq := uint64(0)
	b.ReportAllocs()
	for b.Loop() {
		seq++
		low := uint64(1)
		if seq > 64 {
			low = seq - 64
		}
		key := string(wire.AppendSessionKey(buf[:0], id, seq, low))
		if _, err := h.Put(ctx, &v1.PutRequest{Key: []byte("bench-key"), Value: val, IdempotencyKey: key}); err != nil {
			b.Fatal(err)
		}
	}
}
