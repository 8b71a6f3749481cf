package norikv_test

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
	"testing"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/norikvtest"
)

// selfSigned returns a server certificate for 127.0.0.1 and a pool that
// trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "norikv-test"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
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
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

func TestIntegrationTLS(t *testing.T) {
	cert, pool := selfSigned(t)
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
