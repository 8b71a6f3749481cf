package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/testcert"
)

func TestBearerToken(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, Token: "s3cret"})
	for _, p := range protocols {
		t.Run(p.name, func(t *testing.T) {
			for _, tc := range []struct {
				name, header string
				ok           bool
			}{
				{"missing", "", false},
				{"wrong", "Bearer nope", false},
				{"not bearer", "Basic s3cret", false},
				{"right", "Bearer s3cret", true},
				{"lowercase scheme", "bearer s3cret", true},
			} {
				cl := dial(t, c.Addrs()[0], p, connect.WithInterceptors(headerInterceptor{"Authorization", tc.header}))
				_, err := cl.kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k")})
				if tc.ok && err != nil {
					t.Fatalf("%s: %v", tc.name, err)
				}
				if !tc.ok {
					wantCode(t, err, connect.CodeUnauthenticated, "bearer token")
				}
				// Streams are guarded too.
				s, err := cl.meta.WatchCluster(ctxT(t), &v1.ClusterView{})
				if err != nil {
					t.Fatal(err)
				}
				if got := s.Receive(); got != tc.ok {
					t.Fatalf("%s: watch received=%v err=%v", tc.name, got, s.Err())
				}
				if !tc.ok {
					wantCode(t, s.Err(), connect.CodeUnauthenticated)
				}
				s.Close()
			}
		})
	}
}

// headerInterceptor sets one request header on unary and streaming calls.
type headerInterceptor [2]string

func (h headerInterceptor) set(hd http.Header) {
	if h[1] != "" {
		hd.Set(h[0], h[1])
	}
}

func (h headerInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		h.set(req.Header())
		return next(ctx, req)
	}
}

func (h headerInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return func(ctx context.Context, spec connect.Spec) connect.StreamingClientConn {
		conn := next(ctx, spec)
		h.set(conn.RequestHeader())
		return conn
	}
}

func (h headerInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return next
}

func TestTLS(t *testing.T) {
	cert, pool := testcert.SelfSigned(t)
	c, _ := startTest(t, Config{Nodes: 2, Shards: 4, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	key := "secure"
	url := "https://" + c.Addr(c.Leader(c.ShardOf([]byte(key))))
	for _, p := range protocols {
		kv := norikvv1connect.NewKvClient(hc, url, p.opts...)
		if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte(key), Value: []byte(p.name)}); err != nil {
			t.Fatalf("%s over TLS: %v", p.name, err)
		}
	}
	if _, err := Start(Config{Nodes: 1, TLSConfig: &tls.Config{}}); err == nil {
		t.Fatal("TLS config without a certificate accepted")
	}
}

// Small responses are not gzipped even when the client accepts gzip;
// large ones are.
func TestCompressionThreshold(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	kv := leaderOf(t, c, "small").kv
	put(t, kv, "small", "v")
	put(t, kv, "large", strings.Repeat("x", 4096))
	for key, wantGzip := range map[string]bool{"small": false, "large": true} {
		req, _ := http.NewRequest(http.MethodPost, "http://"+c.Addrs()[0]+"/norikv.v1.Kv/Get",
			strings.NewReader(`{"key":"`+b64(key)+`"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept-Encoding", "gzip")
		tr := &http.Transport{DisableCompression: true}
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body) // drained so the connection is reused; the status is what is checked
		res.Body.Close()
		tr.CloseIdleConnections()
		if got := res.Header.Get("Content-Encoding") == "gzip"; got != wantGzip || res.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d, gzip=%v, want %v", key, res.StatusCode, got, wantGzip)
		}
	}
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestTLSFromFiles(t *testing.T) {
	cert, pool := testcert.SelfSigned(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, TLSCertFile: certFile, TLSKeyFile: keyFile})
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	kv := norikvv1connect.NewKvClient(&http.Client{Transport: tr}, "https://"+c.Addrs()[0], connect.WithGRPC())
	if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k")}); err != nil {
		t.Fatalf("gRPC over TLS from files: %v", err)
	}
	if _, err := Start(Config{TLSCertFile: certFile}); err == nil {
		t.Fatal("cert without key accepted")
	}
	if _, err := Start(Config{TLSCertFile: keyFile, TLSKeyFile: keyFile}); err == nil {
		t.Fatal("bad key pair accepted")
	}
}
