package norikv

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// countingDialer dials TCP and counts the connections that are open, so
// Stats reports what the OS sees rather than what the pool believes.
type countingDialer struct {
	d      net.Dialer
	active atomic.Int64
	dialed atomic.Uint64
	failed atomic.Uint64
	obs    Observer // nil unless Config.Observer is set
	// coalesce merges each connection's writes (coalescingConn): set for
	// HTTP/2, whose client writes each request in two flushes.
	coalesce bool
	// sending counts the client's requests between RoundTrip's start and
	// its response headers, when their frames are written (tracked).
	sending atomic.Int64

	mu    sync.Mutex
	conns map[*countedConn]struct{} // open connections, for closeAll
	shut  bool                      // closeAll ran: later dials are closed
}

// quiet reports whether few requests of the client are being sent: then
// a connection's writes have little to merge with and go straight to the
// socket (coalescingConn). Above it, with many small requests being sent
// (unary calls at c = 64 and beyond), merging saves most write syscalls.
// Natural batching keeps at most two exchanges per node in flight, so
// batches always go straight: measured, handing their writes to the
// writer goroutine, which waits its turn behind a thousand runnable
// callers at c = 1024, halved batched gRPC's throughput there.
func (cd *countingDialer) quiet() bool { return cd.sending.Load() <= quietSending }

// quietSending is the most requests being sent at which writes go
// straight to the socket.
const quietSending = 8

// tracked returns tr counting the requests being sent, for quiet.
func (cd *countingDialer) tracked(tr *http.Transport) http.RoundTripper {
	if !cd.coalesce {
		return tr
	}
	return sendingTransport{tr, &cd.sending}
}

type sendingTransport struct {
	*http.Transport
	n *atomic.Int64
}

func (t sendingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	t.n.Add(1)
	defer t.n.Add(-1)
	return t.Transport.RoundTrip(r)
}

func (cd *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := cd.d.DialContext(ctx, network, addr)
	if err != nil {
		cd.failed.Add(1)
		return nil, err
	}
	cd.active.Add(1)
	cd.dialed.Add(1)
	if cd.obs != nil {
		cd.obs.ConnectionOpened(addr)
	}
	if cd.coalesce {
		c = newCoalescingConn(c, cd.quiet)
	}
	cc := &countedConn{Conn: c, d: cd, addr: addr}
	cd.mu.Lock()
	if cd.shut {
		cd.mu.Unlock()
		_ = cc.Close()
		return nil, net.ErrClosed
	}
	if cd.conns == nil {
		cd.conns = map[*countedConn]struct{}{}
	}
	cd.conns[cc] = struct{}{}
	cd.mu.Unlock()
	return cc, nil
}

// closeAll closes every connection the dialer made, and each one still
// being dialled as soon as it connects. Client.Close calls it once no call
// can run: net/http finishes a dial whose request gave up and pools the
// connection, and CloseIdleConnections, which ran before, never sees it.
func (cd *countingDialer) closeAll() {
	cd.mu.Lock()
	cd.shut = true
	conns := make([]*countedConn, 0, len(cd.conns))
	for c := range cd.conns {
		conns = append(conns, c)
	}
	cd.mu.Unlock()
	for _, c := range conns {
		_ = c.Close()
	}
}

// countedConn decrements the dialer's count once, on the first Close.
type countedConn struct {
	net.Conn
	d      *countingDialer
	addr   string
	closed atomic.Bool
}

func (c *countedConn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.d.mu.Lock()
		delete(c.d.conns, c)
		c.d.mu.Unlock()
		c.d.active.Add(-1)
		if c.d.obs != nil {
			c.d.obs.ConnectionClosed(c.addr)
		}
	}
	return c.Conn.Close()
}

// newTransport builds the one pooled transport of a client. The HTTP
// version is chosen here: h2c (cleartext HTTP/2) uses Go's native
// UnencryptedHTTP2 protocol, no x/net needed.
func newTransport(cfg *Config, useTLS bool, dialer *countingDialer) *http.Transport {
	idle := cfg.MaxIdleConnsPerHost
	if idle <= 0 {
		idle = 64
	}
	tr := &http.Transport{
		DialContext:           dialer.DialContext,
		MaxIdleConns:          0, // bounded per host below
		MaxIdleConnsPerHost:   idle,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: 0,
		DisableCompression:    true, // Connect negotiates its own compression
		// At most as many connections as are kept idle: beyond it a call
		// waits for a free one instead of dialling a connection the pool
		// then closes (at c=1024, unary over HTTP/1.1 dialled ~500/s).
		MaxConnsPerHost: idle,
	}
	version := cfg.HTTPVersion
	if version == HTTPAuto {
		version = HTTP1
		if cfg.Protocol == ProtocolGRPC {
			version = HTTP2
		}
	}
	var p http.Protocols
	dialer.coalesce = version == HTTP2
	switch {
	case version == HTTP2 && useTLS:
		p.SetHTTP2(true)
		tr.ForceAttemptHTTP2 = true
	case version == HTTP2:
		p.SetUnencryptedHTTP2(true)
	default:
		p.SetHTTP1(true)
	}
	tr.Protocols = &p
	if useTLS {
		if cfg.TLS != nil {
			tr.TLSClientConfig = cfg.TLS.Clone()
		} else {
			tr.TLSClientConfig = nil // system roots
		}
	}
	return tr
}

// authHTTPClient adds the bearer token. The header value is built once;
// setting it costs no allocation per request.
type authHTTPClient struct {
	base  *http.Client
	value []string
}

func (c authHTTPClient) Do(req *http.Request) (*http.Response, error) {
	req.Header["Authorization"] = c.value
	return c.base.Do(req) //nolint:gosec // G704: the host is a cluster node routing chose from the view or the seeds, never from user input
}
