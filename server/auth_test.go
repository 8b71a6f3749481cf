package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"net/http"
	"runtime"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// gzipBomb is a Kv.Put whose 4 MiB value compresses to about 4 KB, the
// largest message a node accepts, gzipped.
func gzipBomb(t testing.TB) []byte {
	t.Helper()
	msg, err := proto.Marshal(&v1.PutRequest{Key: []byte("k"), Value: make([]byte, MaxRequestBytes-64)})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if _, err := zw.Write(msg); err != nil {
		panic(err) // a bytes.Buffer never fails a write
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return b.Bytes()
}

// allocated runs fn and returns the bytes the process allocated meanwhile.
func allocated(fn func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	fn()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A request without the token is refused from its headers: its body is
// never read, decompressed or decoded, and no interceptor (the fault hook
// here) sees it.
func TestTokenCheckedBeforeBody(t *testing.T) {
	var hooked atomic.Int64
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, Token: "s3cret",
		Faults: func(context.Context, string, string, any) error { hooked.Add(1); return nil }})
	bomb := gzipBomb(t)
	hc := httpClient(t, false)
	const requests = 10
	var codes []int
	n := allocated(func() {
		for range requests {
			req, _ := http.NewRequest(http.MethodPost, "http://"+c.Addr("n1")+"/norikv.v1.Kv/Put", bytes.NewReader(bomb))
			req.Header.Set("Content-Type", "application/proto")
			req.Header.Set("Content-Encoding", "gzip")
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body) // drained for reuse; the status is what is checked
			res.Body.Close()
			codes = append(codes, res.StatusCode)
		}
	})
	for _, code := range codes {
		if code != http.StatusUnauthorized {
			t.Fatalf("unauthenticated requests answered %v, want 401 each", codes)
		}
	}
	t.Logf("%d unauthenticated %d-byte gzip requests: %d KiB allocated", requests, len(bomb), n>>10)
	if limit := uint64(4 << 20); n > limit {
		t.Errorf("%d unauthenticated %d-byte gzip requests made the process allocate %d KiB, want under %d KiB: the body was read before the token was checked",
			requests, len(bomb), n>>10, limit>>10)
	}
	if got := hooked.Load(); got != 0 {
		t.Errorf("the fault hook ran for %d unauthenticated requests: interceptors ran before the token check", got)
	}
	// With the token, the same kind of request goes through.
	kv := dial(t, c.Addr("n1"), grpcProto, connect.WithInterceptors(bearer("s3cret"))).kv
	put(t, kv, "k", "v")
	if hooked.Load() != 1 {
		t.Errorf("fault hook ran %d times for one authenticated call", hooked.Load())
	}
}
