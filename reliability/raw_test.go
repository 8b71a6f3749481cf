package reliability

import (
	"net/http"
	"testing"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/server"
)

// rawProtocol is one way to reach a node with the generated clients, with
// no SDK in between (so the server, not client-side validation, answers).
type rawProtocol struct {
	name string
	opts []connect.ClientOption
	h2c  bool
}

var rawProtocols = []rawProtocol{
	{"grpc", []connect.ClientOption{connect.WithGRPC()}, true},
	{"grpcweb", []connect.ClientOption{connect.WithGRPCWeb()}, false},
	{"connect", nil, false},
}

func startCluster(t testing.TB, cfg server.Config) *server.Cluster {
	t.Helper()
	c, err := server.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// plainHTTP is an HTTP client (h2c if asked) whose connections close when
// the test ends.
func plainHTTP(t testing.TB, h2c bool) *http.Client {
	tr := &http.Transport{}
	if h2c {
		tr.Protocols = new(http.Protocols)
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr}
}

type bearer struct {
	base  *http.Client
	token string
}

func (b bearer) Do(r *http.Request) (*http.Response, error) {
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.base.Do(r)
}

func rawClients(t testing.TB, addr string, p rawProtocol, token string) (norikvv1connect.KvClient, norikvv1connect.VectorClient) {
	var hc connect.HTTPClient = plainHTTP(t, p.h2c)
	if token != "" {
		hc = bearer{base: hc.(*http.Client), token: token}
	}
	url := "http://" + addr
	return norikvv1connect.NewKvClient(hc, url, p.opts...), norikvv1connect.NewVectorClient(hc, url, p.opts...)
}
