package conformance

import (
	"crypto/tls"
	"net/http"
	"strings"
	"sync"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

// Protocol is an RPC protocol connect-go speaks.
type Protocol string

// The protocols of the matrix.
const (
	ProtocolGRPC    Protocol = "grpc"
	ProtocolGRPCWeb Protocol = "web"  // gRPC-Web
	ProtocolConnect Protocol = "conn" // the Connect protocol
)

// Codec is a message encoding.
type Codec string

// The codecs of the matrix.
const (
	CodecProto Codec = "pb"   // binary protobuf
	CodecJSON  Codec = "json" // protobuf's canonical JSON
)

// HTTPVersion is the HTTP version a transport is pinned to.
type HTTPVersion string

// The HTTP versions of the matrix. HTTP/2 without TLS is h2c (prior
// knowledge), as gRPC clients use it.
const (
	HTTP1 HTTPVersion = "h1"
	HTTP2 HTTPVersion = "h2"
)

// Transport is one column of the matrix.
type Transport struct {
	Protocol Protocol
	Codec    Codec
	HTTP     HTTPVersion
}

// String is the transport's short name, e.g. "grpc/pb/h2" or "conn/json/h1".
// Options.Transports and the report use it.
func (t Transport) String() string {
	return string(t.Protocol) + "/" + string(t.Codec) + "/" + string(t.HTTP)
}

// unsupported says why a transport cannot work at all, or "".
func (t Transport) unsupported() string {
	if t.Protocol == ProtocolGRPC && t.HTTP == HTTP1 {
		// gRPC depends on HTTP/2 trailers and full-duplex streams.
		return "gRPC requires HTTP/2"
	}
	return ""
}

// AllTransports is the full matrix, 12 combinations, in report order. Two
// (gRPC over HTTP/1.1) are always skipped; they stay in the table so the
// report shows the matrix was considered whole.
func AllTransports() []Transport {
	ts := make([]Transport, 0, 12) // 3 protocols × 2 codecs × 2 HTTP versions
	for _, p := range []Protocol{ProtocolGRPC, ProtocolGRPCWeb, ProtocolConnect} {
		for _, c := range []Codec{CodecProto, CodecJSON} {
			for _, h := range []HTTPVersion{HTTP1, HTTP2} {
				ts = append(ts, Transport{p, c, h})
			}
		}
	}
	return ts
}

func (t Transport) clientOptions() []connect.ClientOption {
	var opts []connect.ClientOption
	switch t.Protocol {
	case ProtocolGRPC:
		opts = append(opts, connect.WithGRPC())
	case ProtocolGRPCWeb:
		opts = append(opts, connect.WithGRPCWeb())
	}
	if t.Codec == CodecJSON {
		// connect-go sends application/json, application/grpc+json or
		// application/grpc-web+json depending on the protocol.
		opts = append(opts, connect.WithProtoJSON())
	}
	return opts
}

// newHTTPClient builds an HTTP client pinned to one HTTP version, so a
// server that only speaks the other one fails loudly instead of being
// negotiated around.
func newHTTPClient(h HTTPVersion, tlsConf *tls.Config, token string) (*http.Client, *http.Transport) {
	var p http.Protocols
	switch {
	case h == HTTP1:
		p.SetHTTP1(true)
	case tlsConf != nil:
		p.SetHTTP2(true)
	default:
		p.SetUnencryptedHTTP2(true)
	}
	tr := &http.Transport{
		Protocols:           &p,
		MaxIdleConnsPerHost: 16,
		ForceAttemptHTTP2:   h == HTTP2,
	}
	if tlsConf != nil {
		tr.TLSClientConfig = tlsConf.Clone()
	}
	var rt http.RoundTripper = tr
	if token != "" {
		rt = bearer{token: token, next: tr}
	}
	return &http.Client{Transport: rt}, tr
}

// bearer adds the target's token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

// clients are the generated clients for one node over one transport.
type clients struct {
	kv     norikvv1connect.KvClient
	meta   norikvv1connect.MetaClient
	admin  norikvv1connect.AdminClient
	vector norikvv1connect.VectorClient
}

// dialer hands out clients for one transport, one set per node address.
// Connections are pooled by its HTTP transport and closed by close.
type dialer struct {
	t      Transport
	scheme string
	hc     *http.Client
	tr     *http.Transport

	mu  sync.Mutex
	per map[string]*clients
}

func newDialer(t Transport, target Target) *dialer {
	hc, tr := newHTTPClient(t.HTTP, target.TLS, target.Token)
	scheme := "http://"
	if target.TLS != nil {
		scheme = "https://"
	}
	return &dialer{t: t, scheme: scheme, hc: hc, tr: tr, per: map[string]*clients{}}
}

// to returns the clients for the node at addr.
func (d *dialer) to(addr string) *clients {
	addr = stripScheme(addr)
	d.mu.Lock()
	defer d.mu.Unlock()
	if c, ok := d.per[addr]; ok {
		return c
	}
	base := d.scheme + addr
	opts := d.t.clientOptions()
	c := &clients{
		kv:     norikvv1connect.NewKvClient(d.hc, base, opts...),
		meta:   norikvv1connect.NewMetaClient(d.hc, base, opts...),
		admin:  norikvv1connect.NewAdminClient(d.hc, base, opts...),
		vector: norikvv1connect.NewVectorClient(d.hc, base, opts...),
	}
	d.per[addr] = c
	return c
}

func (d *dialer) close() { d.tr.CloseIdleConnections() }

func stripScheme(addr string) string {
	if i := strings.Index(addr, "://"); i >= 0 {
		addr = addr[i+3:]
	}
	return strings.TrimSuffix(addr, "/")
}
