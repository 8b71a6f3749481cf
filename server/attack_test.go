package server

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/testcert"
)

// The attack table: each row tries one attack against a running cluster
// (server.Start, as `norikv serve` runs it; cmd/norikv's attack test runs
// the command's own rows) and checks it is refused. The README's "TLS and
// tokens" section lists the rows with their results; keep them in step.

// attack is one row: run returns what the server answered, or an error
// if the attack was not refused.
type attack struct {
	name string
	run  func(t *testing.T, c *Cluster) (string, error)
}

// rawPost sends body to a node's Kv.Put over the Connect protocol with
// the given headers, and returns the status.
func rawPost(t *testing.T, c *Cluster, body io.Reader, hdr map[string]string) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctxT(t), http.MethodPost, "http://"+c.Addrs()[0]+"/norikv.v1.Kv/Put", body)
	req.Header.Set("Content-Type", "application/proto")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := httpClient(t, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body) // drained for reuse; the status is what is checked
	res.Body.Close()
	return res.StatusCode
}

func refusedCode(err error, want connect.Code) (string, error) {
	if connect.CodeOf(err) != want {
		return "", fmt.Errorf("got %w, want %v", err, want)
	}
	return want.String(), nil
}

var attacks = []attack{
	{"no token", func(t *testing.T, c *Cluster) (string, error) {
		_, err := dial(t, c.Addrs()[0], grpcProto).kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("v")})
		return refusedCode(err, connect.CodeUnauthenticated)
	}},
	{"wrong token", func(t *testing.T, c *Cluster) (string, error) {
		_, err := dial(t, c.Addrs()[0], grpcProto, connect.WithInterceptors(bearer("guess"))).kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("v")})
		return refusedCode(err, connect.CodeUnauthenticated)
	}},
	{"64 MiB body, no token", func(t *testing.T, c *Cluster) (string, error) {
		var status int
		n := allocated(func() { status = rawPost(t, c, io.LimitReader(zeros{}, 64<<20), nil) })
		if status != http.StatusUnauthorized || n > 4<<20 {
			return "", fmt.Errorf("status %d, %d KiB allocated", status, n>>10)
		}
		return fmt.Sprintf("401, %d KiB allocated", n>>10), nil
	}},
	{"10 gzip bombs (4 KB → 4 MiB), no token", func(t *testing.T, c *Cluster) (string, error) {
		bomb := gzipBomb(t)
		var statuses []int
		n := allocated(func() {
			for range 10 {
				statuses = append(statuses, rawPost(t, c, bytes.NewReader(bomb), map[string]string{"Content-Encoding": "gzip"}))
			}
		})
		for _, s := range statuses {
			if s != http.StatusUnauthorized {
				return "", fmt.Errorf("statuses %v", statuses)
			}
		}
		if n > 4<<20 {
			return "", fmt.Errorf("%d KiB allocated", n>>10)
		}
		return fmt.Sprintf("401 each, %d KiB allocated", n>>10), nil
	}},
	{"cross-origin page", func(t *testing.T, c *Cluster) (string, error) {
		res, _ := do(t, "POST", c.Addrs()[0], "/norikv.v1.Kv/Put", `{"key":"aw==","value":"dg=="}`, map[string]string{
			"Origin": "http://evil.example", "Content-Type": "application/json", "Authorization": "Bearer s3cret"})
		if res.StatusCode != http.StatusForbidden {
			return "", fmt.Errorf("status %d", res.StatusCode)
		}
		return "403", nil
	}},
	{"DNS rebinding (Host and Origin rebind.attacker.test)", func(t *testing.T, c *Cluster) (string, error) {
		_, port, _ := net.SplitHostPort(c.Addrs()[0])
		evil := "rebind.attacker.test:" + port
		res, _ := rebound(t, "POST", c.Addrs()[0], evil, "/norikv.v1.Kv/Put", `{"key":"aw==","value":"dg=="}`, map[string]string{
			"Origin": "http://" + evil, "Content-Type": "application/json", "Authorization": "Bearer s3cret"})
		if res.StatusCode != http.StatusForbidden {
			return "", fmt.Errorf("status %d", res.StatusCode)
		}
		return "403", nil
	}},
	{"too many HTTP/2 streams", func(t *testing.T, c *Cluster) (string, error) {
		return tooManyStreams(t, c.Addrs()[0], "s3cret")
	}},
}

// TestAttacks runs the attack table against a cluster with a token and
// the console on.
func TestAttacks(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, Token: "s3cret", UI: http.NotFoundHandler()})
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			got, err := a.run(t, c)
			if err != nil {
				t.Fatalf("%s: not refused: %v", a.name, err)
			}
			t.Logf("| %s | refused: %s |", a.name, got)
		})
	}
	got, err := dial(t, c.Addrs()[0], grpcProto, connect.WithInterceptors(bearer("s3cret"))).kv.Get(ctxT(t), &v1.GetRequest{Key: []byte("k")})
	if err != nil || got.Version != nil {
		t.Fatalf("an attack wrote k: %v, %v", got.GetVersion(), err)
	}
}

// TestAttackSlowHeaders: a client that sends part of its headers and
// then nothing is cut off after ReadHeaderTimeout (shortened here, on a
// cluster of its own: on a loaded machine a short timeout also cuts
// honest clients).
func TestAttackSlowHeaders(t *testing.T) {
	defer func(d time.Duration) { readHeaderTimeout = d }(readHeaderTimeout)
	readHeaderTimeout = time.Second
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, Token: "s3cret"})
	conn, err := net.Dial("tcp", c.Addrs()[0])
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := io.WriteString(conn, "POST /norikv.v1.Kv/Put HTTP/1.1\r\nHost: x\r\n"); err != nil { // and never the rest
		t.Fatal(err)
	}
	if err := conn.SetReadDeadline(time.Now().Add(30 * time.Second)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, err := io.ReadAll(conn); err != nil {
		t.Fatalf("slow headers: not refused: the server kept the connection open: %v", err)
	}
	t.Logf("| slow headers | refused: closed after %v (ReadHeaderTimeout %v) |", time.Since(start).Round(10*time.Millisecond), readHeaderTimeout)
}

// TestAttackTLS: with TLS configured, plaintext is refused and a client
// that does not trust the certificate cannot connect.
func TestAttackTLS(t *testing.T) {
	cert, _ := testcert.SelfSigned(t)
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, TLSConfig: &tls.Config{Certificates: []tls.Certificate{cert}}})
	res, _ := do(t, "POST", c.Addrs()[0], "/norikv.v1.Kv/Get", `{"key":"aw=="}`, map[string]string{"Content-Type": "application/json"})
	if res.StatusCode != http.StatusBadRequest {
		t.Errorf("plaintext request to a TLS node: %d, want 400", res.StatusCode)
	}
	t.Logf("| plaintext to a TLS node | refused: %d |", res.StatusCode)
	conn, err := tls.Dial("tcp", c.Addrs()[0], &tls.Config{ServerName: "127.0.0.1"})
	if err == nil {
		conn.Close()
		t.Fatal("a client without the CA completed the TLS handshake")
	}
	if !strings.Contains(err.Error(), "certificate") {
		t.Errorf("TLS client without the CA: %v, want a certificate error", err)
	}
	t.Logf("| TLS client without the CA | refused: %v |", err)
}

// tooManyStreams opens one more HTTP/2 stream than the node advertises on
// one h2c connection (HPACK literals written by hand) and wants the
// extra stream reset. The streams carry the token, so each waits in its
// handler for a body that never comes.
func tooManyStreams(t *testing.T, addr, token string) (string, error) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.SetDeadline(time.Now().Add(20 * time.Second)); err != nil {
		return "", err
	}
	w := bufio.NewWriter(conn)
	r := bufio.NewReader(conn)
	// A bufio.Writer's error is sticky: the Flush after the frames
	// reports it.
	frame := func(typ, flags byte, stream uint32, payload []byte) {
		_, _ = w.Write([]byte{byte(len(payload) >> 16), byte(len(payload) >> 8), byte(len(payload)), typ, flags})
		_ = binary.Write(w, binary.BigEndian, stream)
		_, _ = w.Write(payload)
	}
	readFrame := func() (typ, flags byte, stream uint32, payload []byte, err error) {
		var h [9]byte
		if _, err = io.ReadFull(r, h[:]); err != nil {
			return
		}
		n := int(h[0])<<16 | int(h[1])<<8 | int(h[2])
		payload = make([]byte, n)
		_, err = io.ReadFull(r, payload)
		return h[3], h[4], binary.BigEndian.Uint32(h[5:]) &^ (1 << 31), payload, err
	}
	_, _ = w.WriteString("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	frame(4, 0, 0, nil) // SETTINGS
	w.Flush()
	maxStreams := uint32(0)
	for maxStreams == 0 {
		typ, flags, _, p, err := readFrame()
		if err != nil {
			return "", fmt.Errorf("reading the server's settings: %w", err)
		}
		if typ == 4 && flags&1 == 0 {
			for i := 0; i+6 <= len(p); i += 6 {
				if binary.BigEndian.Uint16(p[i:]) == 3 {
					maxStreams = binary.BigEndian.Uint32(p[i+2:])
				}
			}
			if maxStreams == 0 {
				return "", errors.New("no MAX_CONCURRENT_STREAMS advertised")
			}
			frame(4, 1, 0, nil) // ACK
		}
	}
	lit := func(b []byte, name, value string) []byte {
		b = append(b, 0, byte(len(name)))
		b = append(b, name...)
		b = append(b, byte(len(value)))
		return append(b, value...)
	}
	var block []byte
	for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", "/norikv.v1.Kv/Get"}, {":authority", addr}, {"content-type", "application/grpc"}, {"authorization", "Bearer " + token}} {
		block = lit(block, kv[0], kv[1])
	}
	last := 2*maxStreams + 1 // the (maxStreams+1)th client stream id
	for id := uint32(1); id <= last; id += 2 {
		frame(1, 4, id, block) // HEADERS, END_HEADERS, no END_STREAM: stays open
	}
	w.Flush()
	for {
		typ, _, stream, p, err := readFrame()
		if err != nil {
			return "", fmt.Errorf("stream %d was not reset: %w", last, err)
		}
		switch {
		case typ == 3 && stream == last: // RST_STREAM
			return fmt.Sprintf("stream %d of %d allowed reset (code %d)", maxStreams+1, maxStreams, binary.BigEndian.Uint32(p)), nil
		case typ == 3 && stream < last:
			return "", fmt.Errorf("stream %d within the limit was reset", stream)
		case typ == 7: // GOAWAY
			return fmt.Sprintf("connection closed (GOAWAY code %d) at stream %d of %d allowed", binary.BigEndian.Uint32(p[4:]), maxStreams+1, maxStreams), nil
		}
	}
}
