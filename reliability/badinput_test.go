package reliability

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/server"
)

// badInputCase is one request the server must refuse, and how.
type badInputCase struct {
	name string
	call func(ctx context.Context, kv norikvv1connect.KvClient, vec norikvv1connect.VectorClient) error
	code connect.Code
	// want are substrings of the message: the field and the limit.
	want []string
}

func badInputCases() []badInputCase {
	key := func(n int) []byte { return bytes.Repeat([]byte("k"), n) }
	kvPut := func(r *v1.PutRequest) func(context.Context, norikvv1connect.KvClient, norikvv1connect.VectorClient) error {
		return func(ctx context.Context, kv norikvv1connect.KvClient, _ norikvv1connect.VectorClient) error {
			_, err := kv.Put(ctx, r)
			return err
		}
	}
	vec := func(f func(context.Context, norikvv1connect.VectorClient) error) func(context.Context, norikvv1connect.KvClient, norikvv1connect.VectorClient) error {
		return func(ctx context.Context, _ norikvv1connect.KvClient, v norikvv1connect.VectorClient) error {
			return f(ctx, v)
		}
	}
	insert := func(ns string, x []float32) func(context.Context, norikvv1connect.KvClient, norikvv1connect.VectorClient) error {
		return vec(func(ctx context.Context, v norikvv1connect.VectorClient) error {
			_, err := v.Insert(ctx, &v1.VectorInsertRequest{Namespace: ns, Id: "a", Vector: x})
			return err
		})
	}
	search := func(k uint32) func(context.Context, norikvv1connect.KvClient, norikvv1connect.VectorClient) error {
		return vec(func(ctx context.Context, v norikvv1connect.VectorClient) error {
			_, err := v.Search(ctx, &v1.VectorSearchRequest{Namespace: "bad", Query: []float32{1, 2, 3}, K: k})
			return err
		})
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	return []badInputCase{
		{"empty key", kvPut(&v1.PutRequest{Key: nil, Value: []byte("v")}), connect.CodeInvalidArgument, []string{"key", "1"}},
		{"oversized key (1025 bytes)", kvPut(&v1.PutRequest{Key: key(1025)}), connect.CodeInvalidArgument, []string{"key", "1024"}},
		{"oversized key on get", func(ctx context.Context, kv norikvv1connect.KvClient, _ norikvv1connect.VectorClient) error {
			_, err := kv.Get(ctx, &v1.GetRequest{Key: key(1025)})
			return err
		}, connect.CodeInvalidArgument, []string{"key", "1024"}},
		{"oversized value (1 MiB + 1)", kvPut(&v1.PutRequest{Key: key(1), Value: make([]byte, 1<<20+1)}), connect.CodeInvalidArgument, []string{"value", "1048576"}},
		{"ttl over 10 years", kvPut(&v1.PutRequest{Key: key(1), TtlMs: 315360000001}), connect.CodeInvalidArgument, []string{"ttl_ms", "315360000000"}},
		{"oversized idempotency key", kvPut(&v1.PutRequest{Key: key(1), IdempotencyKey: strings.Repeat("i", 257)}), connect.CodeInvalidArgument, []string{"idempotency_key", "256"}},
		{"unknown consistency", func(ctx context.Context, kv norikvv1connect.KvClient, _ norikvv1connect.VectorClient) error {
			_, err := kv.Get(ctx, &v1.GetRequest{Key: key(1), Consistency: "sometimes"})
			return err
		}, connect.CodeInvalidArgument, []string{"consistency"}},
		{"NaN vector", insert("bad", []float32{1, nan, 3}), connect.CodeInvalidArgument, []string{"vector", "finite"}},
		{"Inf vector", insert("bad", []float32{1, 2, inf}), connect.CodeInvalidArgument, []string{"vector", "finite"}},
		{"empty vector", insert("bad", nil), connect.CodeInvalidArgument, []string{"vector", "1"}},
		{"wrong dimensions", insert("bad", []float32{1, 2, 3, 4}), connect.CodeInvalidArgument, []string{"vector", "4 dimensions", "3"}},
		{"k = 0", search(0), connect.CodeInvalidArgument, []string{"k", "1"}},
		{"huge k", search(math.MaxUint32), connect.CodeInvalidArgument, []string{"k", "1024"}},
		{"unknown namespace", insert("no-such-index", []float32{1, 2, 3}), connect.CodeNotFound, []string{"namespace", "no-such-index"}},
		{"empty namespace", insert("", []float32{1}), connect.CodeInvalidArgument, []string{"namespace", "1"}},
		{"oversized namespace", insert(strings.Repeat("n", 257), []float32{1}), connect.CodeInvalidArgument, []string{"namespace", "256"}},
		{"dimensions 0", vec(func(ctx context.Context, v norikvv1connect.VectorClient) error {
			_, err := v.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "d0", Dimensions: 0,
				Distance: v1.DistanceFunction_DISTANCE_FUNCTION_COSINE, IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_HNSW})
			return err
		}), connect.CodeInvalidArgument, []string{"dimensions", "1"}},
		{"dimensions 4097", vec(func(ctx context.Context, v norikvv1connect.VectorClient) error {
			_, err := v.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "d0", Dimensions: 4097,
				Distance: v1.DistanceFunction_DISTANCE_FUNCTION_COSINE, IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_HNSW})
			return err
		}), connect.CodeInvalidArgument, []string{"dimensions", "4096"}},
		{"unspecified distance", vec(func(ctx context.Context, v norikvv1connect.VectorClient) error {
			_, err := v.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "d1", Dimensions: 2, IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_HNSW})
			return err
		}), connect.CodeInvalidArgument, []string{"distance"}},
	}
}

// TestBadInput sends every case over each protocol to a one-node cluster
// (it leads every shard, so no case is answered NOT_LEADER) and checks the
// exact code and that the message names the field and the limit.
func TestBadInput(t *testing.T) {
	c := startCluster(t, server.Config{Nodes: 1, Shards: 8})
	ctx := context.Background()
	tried := 0
	for _, p := range rawProtocols {
		kv, vec := rawClients(t, c.Addr("n1"), p, "")
		if _, err := vec.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "bad", Dimensions: 3,
			Distance: v1.DistanceFunction_DISTANCE_FUNCTION_EUCLIDEAN, IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_BRUTE_FORCE}); err != nil {
			t.Fatal(err)
		}
		for _, tc := range badInputCases() {
			t.Run(p.name+"/"+tc.name, func(t *testing.T) {
				tried++
				err := tc.call(ctx, kv, vec)
				var ce *connect.Error
				if !errors.As(err, &ce) {
					t.Fatalf("got %v, want %v", err, tc.code)
				}
				if ce.Code() != tc.code {
					t.Fatalf("got %v %q, want %v", ce.Code(), ce.Message(), tc.code)
				}
				for _, s := range tc.want {
					if !strings.Contains(ce.Message(), s) {
						t.Errorf("message %q does not name %q", ce.Message(), s)
					}
				}
			})
		}
	}
	t.Logf("bad input: %d cases tried over %d protocols", tried, len(rawProtocols))
}

// TestBinaryKeysRoundTrip: keys are bytes, not text; non-UTF-8 keys are
// valid and must come back byte for byte.
func TestBinaryKeysRoundTrip(t *testing.T) {
	c := startCluster(t, server.Config{Nodes: 1, Shards: 8})
	ctx := context.Background()
	keys := [][]byte{{0xff, 0xfe, 0x00, 0x80}, {0x00}, []byte("\xc3\x28"), bytes.Repeat([]byte{0xff}, 1024)}
	for _, p := range rawProtocols {
		kv, _ := rawClients(t, c.Addr("n1"), p, "")
		for i, k := range keys {
			val := append([]byte{0xfe, byte(i)}, k...)
			if _, err := kv.Put(ctx, &v1.PutRequest{Key: k, Value: val}); err != nil {
				t.Fatalf("%s: put %x: %v", p.name, k, err)
			}
			res, err := kv.Get(ctx, &v1.GetRequest{Key: k})
			if err != nil || !bytes.Equal(res.Value, val) {
				t.Fatalf("%s: get %x = %x, %v; want %x", p.name, k, res.GetValue(), err, val)
			}
		}
	}
}

// TestWrongBearerToken: a cluster started with a token refuses a wrong
// one, and a missing one, with UNAUTHENTICATED.
func TestWrongBearerToken(t *testing.T) {
	c := startCluster(t, server.Config{Nodes: 1, Shards: 8, Token: "s3cret"})
	for _, p := range rawProtocols {
		for _, tok := range []string{"wrong", ""} {
			kv, _ := rawClients(t, c.Addr("n1"), p, tok)
			_, err := kv.Get(context.Background(), &v1.GetRequest{Key: []byte("k")})
			if connect.CodeOf(err) != connect.CodeUnauthenticated || !strings.Contains(err.Error(), "bearer token") {
				t.Errorf("%s token %q: got %v, want unauthenticated naming the bearer token", p.name, tok, err)
			}
		}
		kv, _ := rawClients(t, c.Addr("n1"), p, "s3cret")
		// Past the token check: a missing key is OK without a version.
		if res, err := kv.Get(context.Background(), &v1.GetRequest{Key: []byte("k")}); err != nil || res.Version != nil {
			t.Errorf("%s right token: got %v, %v; want OK without a version", p.name, res, err)
		}
	}
}

// TestGarbageContentType: an unknown content type is refused at the HTTP
// level (415), before any decoding.
func TestGarbageContentType(t *testing.T) {
	c := startCluster(t, server.Config{Nodes: 1, Shards: 8})
	hc := plainHTTP(t, false)
	for _, ct := range []string{"text/banana", "application/grpc+banana", "", "image/png"} {
		res, err := hc.Post("http://"+c.Addr("n1")+norikvv1connect.KvGetProcedure, ct, strings.NewReader("\x0a\x01k"))
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body) // drained so the connection is reused; the status is what is checked
		res.Body.Close()
		if res.StatusCode != http.StatusUnsupportedMediaType {
			t.Errorf("content type %q: HTTP %d, want 415", ct, res.StatusCode)
		}
	}
}

// TestTruncatedFrame: a gRPC length prefix promising 100 bytes followed by
// 10 is refused. connect-go (like grpc-go) reports a broken envelope as
// INTERNAL "protocol error: promised 100 bytes ..."; the point here is
// that the server answers at once and keeps serving.
func TestTruncatedFrame(t *testing.T) {
	c := startCluster(t, server.Config{Nodes: 1, Shards: 8})
	hc := plainHTTP(t, true)
	body := make([]byte, 5+10)
	binary.BigEndian.PutUint32(body[1:5], 100)
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.Addr("n1")+norikvv1connect.KvPutProcedure, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers")
	res, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body) // drained so the connection is reused; the status is what is checked
	res.Body.Close()
	status, msg := res.Trailer.Get("Grpc-Status"), res.Trailer.Get("Grpc-Message")
	if status == "" {
		status, msg = res.Header.Get("Grpc-Status"), res.Header.Get("Grpc-Message")
	}
	if status != "13" || !strings.Contains(msg, "promised 100 bytes") {
		t.Errorf("grpc-status %q message %q; want 13 (internal) protocol error: promised 100 bytes", status, msg)
	}
	// The node still serves.
	kv, _ := rawClients(t, c.Addr("n1"), rawProtocols[0], "")
	if _, err := kv.Put(context.Background(), &v1.PutRequest{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Fatal(err)
	}
}

// TestHugeBodyNotBuffered streams a 100 MiB body to the Connect endpoint.
// The server must refuse it (RESOURCE_EXHAUSTED, or an HTTP 4xx, or cut the
// connection) without buffering it: the process's heap may not grow by
// more than a few times the 4 MiB request cap while it streams.
func TestHugeBodyNotBuffered(t *testing.T) {
	// Registered first, so it runs after the cluster closed: net/http
	// lingers 500 ms on a connection it closed with an unread body
	// (closeWriteAndWait) before that goroutine ends.
	t.Cleanup(func() { waitGoroutinesGone("closeWriteAndWait", 3*time.Second) })
	c := startCluster(t, server.Config{Nodes: 1, Shards: 8})
	hc := plainHTTP(t, false)
	const size = 100 << 20
	// Collect garbage eagerly so HeapAlloc tracks live memory: what the
	// server keeps of the body, not buffers already thrown away.
	defer debug.SetGCPercent(debug.SetGCPercent(5))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	sent := &countingReader{r: io.LimitReader(zeroReader{}, size)}
	req, _ := http.NewRequest(http.MethodPost, "http://"+c.Addr("n1")+norikvv1connect.KvPutProcedure, sent)
	req.Header.Set("Content-Type", "application/proto")
	req.Header.Set("Connect-Protocol-Version", "1")
	start := time.Now()
	res, err := hc.Do(req)
	elapsed := time.Since(start)
	close(stop)
	<-sampled
	growth := int64(peak.Load()) - int64(base)
	t.Logf("100 MiB body: %d bytes sent before the answer, %v, peak heap growth %.1f MiB", sent.n.Load(), elapsed, float64(growth)/(1<<20))
	if err == nil {
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode < 400 || res.StatusCode >= 500 || !strings.Contains(string(data), "resource_exhausted") {
			t.Errorf("HTTP %d %s; want 4xx resource_exhausted", res.StatusCode, data)
		}
	} // else: the server cut the connection mid-upload, also a refusal
	if growth > 48<<20 { // under half the body: it was not buffered
		t.Errorf("heap grew by %d MiB while a 100 MiB body streamed: the server buffers it", growth>>20)
	}
}

// waitGoroutinesGone waits until no goroutine's stack mentions fn.
func waitGoroutinesGone(fn string, limit time.Duration) {
	buf := make([]byte, 1<<20)
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if !bytes.Contains(buf[:runtime.Stack(buf, true)], []byte(fn)) {
			return
		}
	}
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
