package conformance

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/norikv/norikv-go/norikvtest"
)

// TestConformanceTLS checks the https side of the matrix (HTTP/2 by ALPN
// instead of h2c) on a few cases that cover unary calls, error metadata
// and streams.
func TestConformanceTLS(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short")
	}
	serverConf, clientConf := selfSigned(t)
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
	if pass, _, _ := rep.Counts(); pass != 3*10 {
		t.Fatalf("%d cells passed, want 30\n%s", pass, b.String())
	}
}

// selfSigned returns a server configuration with a fresh certificate for
// 127.0.0.1 and a client configuration that trusts it.
func selfSigned(t *testing.T) (srv, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "norikv conformance"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}},
		&tls.Config{RootCAs: pool}
}
