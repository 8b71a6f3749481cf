package server

import (
	"net/http"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/testcert"
)

// TestGRPCOnly: a node in gRPC-only mode serves gRPC with binary protobuf
// over HTTP/2 (NoriKV's services and health alike) and refuses the rest
// as tonic does: HTTP/1.1 gets HTTP/2 frames back (a malformed response
// to an HTTP/1.1 client), Connect and gRPC-Web over HTTP/2 get a gRPC
// answer their clients cannot read, the JSON codec gets INTERNAL; and
// nothing refused is applied.
func TestGRPCOnly(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 4, GRPCOnly: true})
	addr := c.Addr("n1")
	ctx := ctxT(t)
	key := []byte("k")
	if _, err := dial(t, addr, grpcProto).kv.Put(ctx, &v1.PutRequest{Key: key, Value: []byte("grpc")}); err != nil {
		t.Fatalf("gRPC/pb/h2 put: %v", err)
	}
	hc := grpchealth.NewClient(httpClient(t, true), "http://"+addr, connect.WithGRPC())
	if res, err := hc.Check(ctx, &grpchealth.CheckRequest{}); err != nil || res.Status != grpchealth.StatusServing {
		t.Errorf("health over gRPC = %v, %v", res, err)
	}

	h2 := func(p protocol) protocol { p.h2c = true; return p }
	for _, tc := range []struct {
		name string
		p    protocol
		want string
	}{
		{"connect/h1", protocols[2], `malformed HTTP response "\x00\x00\x06\x04`},
		{"grpcweb/h1", protocols[1], `malformed HTTP response "\x00\x00\x06\x04`},
		{"connect/h2", h2(protocols[2]), `invalid content-type: "application/grpc"; expecting "application/proto"`},
		{"grpcweb/h2", h2(protocols[1]), `invalid content-type: "application/grpc"; expecting "application/grpc-web`},
		{"connect-json/h2", h2(allProtocols[3]), `invalid content-type: "application/grpc"; expecting "application/json"`},
		{"grpc-json/h2", protocol{opts: []connect.ClientOption{connect.WithGRPC(), connect.WithProtoJSON()}, h2c: true}, `expecting "application/grpc+json"`},
	} {
		_, err := dial(t, addr, tc.p).kv.Put(ctx, &v1.PutRequest{Key: key, Value: []byte(tc.name)})
		if err == nil {
			t.Errorf("%s: put served, want it refused", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
	res, err := dial(t, addr, grpcProto).kv.Get(ctx, &v1.GetRequest{Key: key})
	if err != nil || string(res.GetValue()) != "grpc" {
		t.Fatalf("get after refused writes = %q, %v; want the gRPC write's value", res.GetValue(), err)
	}

	// The refusal's own words, as a gRPC client of the JSON codec that
	// reads any content type would see them.
	rec := &headerRecorder{h: http.Header{}}
	grpcOnly(nil).ServeHTTP(rec, &http.Request{ProtoMajor: 2, Header: http.Header{"Content-Type": {"application/grpc+json"}}})
	if got := rec.h.Get("Grpc-Status"); got != "13" || !strings.Contains(rec.h.Get("Grpc-Message"), "codec json is not served") {
		t.Errorf("grpc+json refusal: status %q message %q", got, rec.h.Get("Grpc-Message"))
	}
}

type headerRecorder struct {
	h    http.Header
	code int
}

func (r *headerRecorder) Header() http.Header         { return r.h }
func (r *headerRecorder) Write(b []byte) (int, error) { return len(b), nil }
func (r *headerRecorder) WriteHeader(code int)        { r.code = code }

// TestGRPCOnlyTLS: over TLS a gRPC-only node offers h2 alone, so an
// HTTP/1.1-only client fails the handshake, and gRPC works.
func TestGRPCOnlyTLS(t *testing.T) {
	srvTLS, cliTLS := testcert.Configs(t)
	c, _ := startTest(t, Config{Nodes: 1, Shards: 2, GRPCOnly: true, TLSConfig: srvTLS})
	tr := &http.Transport{TLSClientConfig: cliTLS.Clone()}
	t.Cleanup(tr.CloseIdleConnections)
	_, err := (&http.Client{Transport: tr}).Get("https://" + c.Addr("n1") + "/")
	if err == nil {
		t.Errorf("HTTP/1.1-only TLS client: served, want refused")
	}
	tr2 := &http.Transport{TLSClientConfig: cliTLS.Clone(), ForceAttemptHTTP2: true}
	t.Cleanup(tr2.CloseIdleConnections)
	kv := norikvv1connect.NewKvClient(&http.Client{Transport: tr2}, "https://"+c.Addr("n1"), connect.WithGRPC())
	if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("v")}); err != nil {
		t.Errorf("gRPC over TLS: %v", err)
	}
}

// TestGRPCOnlyRefusesBrowsers: the console and CORS need Connect and
// gRPC-Web, so asking for them with GRPCOnly is an error at Start.
func TestGRPCOnlyRefusesBrowsers(t *testing.T) {
	_, err := Start(Config{Nodes: 1, Shards: 1, GRPCOnly: true, CORSOrigins: []string{"*"}})
	if err == nil || !strings.Contains(err.Error(), "GRPCOnly with UI or CORSOrigins") {
		t.Fatalf("Start(GRPCOnly, CORSOrigins) = %v, want refused", err)
	}
}
