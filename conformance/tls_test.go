package conformance

import (
	"context"
	"strings"
	"testing"

	"github.com/norikv/norikv-go/internal/testcert"
	"github.com/norikv/norikv-go/norikvtest"
)

// TestConformanceTLS checks the https side of the matrix (HTTP/2 by ALPN
// instead of h2c) on a few cases that cover unary calls, error metadata
// and streams.
func TestConformanceTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short")
	}
	serverConf, clientConf := testcert.Configs(t)
	c := norikvtest.Start(t, norikvtest.WithNodes(2), norikvtest.WithShards(8), norikvtest.WithTLS(serverConf))
	rep, err := Run(context.Background(), Target{Addrs: c.Addrs(), TLS: clientConf},
		Options{Cases: []string{"versions", "not_leader", "watch"}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = rep.WriteTable(&b)
	if rep.Failed() {
		t.Fatal("\n" + b.String())
	}
	if pass := rep.Counts().Pass; pass != 3*10 {
		t.Fatalf("%d cells passed, want 30\n%s", pass, b.String())
	}
}
