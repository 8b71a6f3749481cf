package server

import (
	"bytes"
	"io"
	"math"
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Every protovalidate rule of the schema is enforced, and the message names
// the field and the limit.
func TestValidationRules(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	cl := dial(t, c.Addrs()[0], protocols[2])
	ctx := ctxT(t)
	big := strings.Repeat("x", 257)
	cases := []struct {
		name  string
		call  func() error
		field string
		limit string
	}{
		{"empty key", func() error { _, err := cl.kv.Put(ctx, &v1.PutRequest{}); return err }, "key", "1"},
		{"long key", func() error {
			_, err := cl.kv.Put(ctx, &v1.PutRequest{Key: make([]byte, 1025)})
			return err
		}, "key", "1024"},
		{"big value", func() error {
			_, err := cl.kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), Value: make([]byte, 1<<20+1)})
			return err
		}, "value", "1048576"},
		{"ttl", func() error {
			_, err := cl.kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), TtlMs: 315360000001})
			return err
		}, "ttl_ms", "315360000000"},
		{"put idempotency key", func() error {
			_, err := cl.kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), IdempotencyKey: big})
			return err
		}, "idempotency_key", "256"},
		{"get key", func() error { _, err := cl.kv.Get(ctx, &v1.GetRequest{}); return err }, "key", "1"},
		{"get consistency", func() error {
			_, err := cl.kv.Get(ctx, &v1.GetRequest{Key: []byte("k"), Consistency: "STRONG"})
			return err
		}, "consistency", "lease"},
		{"delete key", func() error { _, err := cl.kv.Delete(ctx, &v1.DeleteRequest{}); return err }, "key", "1"},
		{"delete idempotency key", func() error {
			_, err := cl.kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("k"), IdempotencyKey: big})
			return err
		}, "idempotency_key", "256"},
		{"namespace", func() error {
			_, err := cl.vector.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: strings.Repeat("n", 257), Dimensions: 2, Distance: 1, IndexType: 1})
			return err
		}, "namespace", "256"},
		{"dimensions", func() error {
			_, err := cl.vector.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "n", Dimensions: 4097, Distance: 1, IndexType: 1})
			return err
		}, "dimensions", "4096"},
		{"distance", func() error {
			_, err := cl.vector.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "n", Dimensions: 2, IndexType: 1})
			return err
		}, "distance", ""},
		{"index type", func() error {
			_, err := cl.vector.CreateIndex(ctx, &v1.CreateVectorIndexRequest{Namespace: "n", Dimensions: 2, Distance: 9, IndexType: 1})
			return err
		}, "distance", ""},
		{"vector id", func() error {
			_, err := cl.vector.Insert(ctx, &v1.VectorInsertRequest{Namespace: "n", Id: strings.Repeat("i", 513), Vector: []float32{1}})
			return err
		}, "id", "512"},
		{"vector NaN", func() error {
			_, err := cl.vector.Insert(ctx, &v1.VectorInsertRequest{Namespace: "n", Id: "i", Vector: []float32{float32(math.NaN())}})
			return err
		}, "vector[0]", "finite"},
		{"vector Inf", func() error {
			_, err := cl.vector.Insert(ctx, &v1.VectorInsertRequest{Namespace: "n", Id: "i", Vector: []float32{1, float32(math.Inf(-1))}})
			return err
		}, "vector[1]", "finite"},
		{"empty vector", func() error {
			_, err := cl.vector.Insert(ctx, &v1.VectorInsertRequest{Namespace: "n", Id: "i"})
			return err
		}, "vector", "1"},
		{"k", func() error {
			_, err := cl.vector.Search(ctx, &v1.VectorSearchRequest{Namespace: "n", Query: []float32{1}, K: 1025})
			return err
		}, "k", "1024"},
		{"query NaN", func() error {
			_, err := cl.vector.Search(ctx, &v1.VectorSearchRequest{Namespace: "n", Query: []float32{float32(math.NaN())}, K: 1})
			return err
		}, "query[0]", "finite"},
		{"search consistency", func() error {
			_, err := cl.vector.Search(ctx, &v1.VectorSearchRequest{Namespace: "n", Query: []float32{1}, K: 1, Consistency: "x"})
			return err
		}, "consistency", ""},
		{"vector get id", func() error {
			_, err := cl.vector.Get(ctx, &v1.VectorGetRequest{Namespace: "n"})
			return err
		}, "id", "1"},
		{"vector delete", func() error {
			_, err := cl.vector.Delete(ctx, &v1.VectorDeleteRequest{Id: "i"})
			return err
		}, "namespace", "1"},
		{"drop", func() error {
			_, err := cl.vector.DropIndex(ctx, &v1.DropVectorIndexRequest{Namespace: "n", IdempotencyKey: big})
			return err
		}, "idempotency_key", "256"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ce := wantCode(t, tc.call(), connect.CodeInvalidArgument, tc.field+":", tc.limit)
			if len(ce.Details()) == 0 {
				t.Error("no violations detail")
			}
		})
	}
}

// A 100 MiB body is refused without being buffered: the client sends 16
// MiB and then stalls, and the server must answer RESOURCE_EXHAUSTED
// (over h2c: an HTTP/1.1 client insists on finishing the body first)
// before the rest arrives.
func TestRequestSizeCap(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	for _, p := range []struct {
		name, ctype string
		h2c         bool
	}{{"connect", "application/proto", true}, {"grpc", "application/grpc", true}} {
		t.Run(p.name, func(t *testing.T) {
			const size = 100 << 20
			release := make(chan struct{})
			defer close(release)
			var body = io.MultiReader(io.LimitReader(zeros{}, 16<<20), stall(release))
			if p.name == "grpc" {
				// A gRPC envelope announcing a 100 MiB message.
				body = io.MultiReader(bytes.NewReader([]byte{0, 0x06, 0x40, 0, 0}), body)
			}
			req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, "http://"+c.Addrs()[0]+"/norikv.v1.Kv/Put", body)
			req.Header.Set("Content-Type", p.ctype)
			if p.name == "connect" {
				req.ContentLength = size
			}
			res, err := httpClient(t, p.h2c).Do(req)
			if err != nil {
				t.Fatalf("request failed instead of being answered: %v", err)
			}
			defer res.Body.Close()
			if p.name == "connect" {
				if res.StatusCode != http.StatusTooManyRequests {
					t.Fatalf("status %d, want 429 (resource_exhausted)", res.StatusCode)
				}
				return
			}
			_, _ = io.Copy(io.Discard, res.Body) // drained so the connection is reused; the status is what is checked
			if code := res.Header.Get("Grpc-Status") + res.Trailer.Get("Grpc-Status"); code != "8" {
				t.Fatalf("grpc-status %q, want 8 (resource_exhausted)", code)
			}
		})
	}
}

// A 1 MiB value with a maximal key fits under the cap.
func TestMaxValueAccepted(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	for _, p := range protocols {
		kv := dial(t, c.Addrs()[0], p).kv
		if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: bytes.Repeat([]byte("k"), 1024), Value: make([]byte, 1<<20), IdempotencyKey: strings.Repeat("i", 256)}); err != nil {
			t.Fatalf("%s: %v", p.name, err)
		}
	}
}

func TestMalformedBodies(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	for _, tc := range []struct{ ctype, body string }{
		{"application/proto", "\xff\xff\xff"},
		{"application/proto", "\x0a\x05ab"}, // truncated key
		{"application/json", "{"},
		{"application/json", `{"key": 5}`},
		{"application/json", `{"key": "!!notbase64"}`},
		{"application/json", `{"nope": 1}`},
	} {
		code, status := postConnect(t, c.Addrs()[0], "/norikv.v1.Kv/Put", tc.ctype, []byte(tc.body))
		if code != "invalid_argument" {
			t.Errorf("%s %q: code %q (HTTP %d), want invalid_argument", tc.ctype, tc.body, code, status)
		}
	}
}
