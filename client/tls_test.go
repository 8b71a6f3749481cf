package norikv_test

import (
	"context"
	"crypto/tls"
	"testing"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/internal/testcert"
	"github.com/norikv/norikv-go/norikvtest"
)

func TestIntegrationTLS(t *testing.T) {
	cert, pool := testcert.SelfSigned(t)
	cl := startCluster(t, norikvtest.WithShards(16), norikvtest.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	cases := []protocolCase{
		{"grpc-h2", func(c *norikv.Config) { c.Protocol = norikv.ProtocolGRPC }},
		{"connect-h1", func(c *norikv.Config) { c.Protocol = norikv.ProtocolConnect; c.HTTPVersion = norikv.HTTP1 }},
		{"grpcweb-h2", func(c *norikv.Config) { c.Protocol = norikv.ProtocolGRPCWeb; c.HTTPVersion = norikv.HTTP2 }},
	}
	for _, p := range cases {
		t.Run(p.name, func(t *testing.T) {
			c := newTestClient(t, cl, protocolCase{set: func(c *norikv.Config) {
				p.set(c)
				c.TLS = &tls.Config{RootCAs: pool}
			}})
			ctx := context.Background()
			if err := c.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Put(ctx, "k", []byte("v")); err != nil {
				t.Fatal(err)
			}
			if r, err := c.Get(ctx, "k"); err != nil || string(r.Value) != "v" {
				t.Fatal(r, err)
			}
		})
	}
}
