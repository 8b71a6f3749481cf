package main

import (
	"context"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// serveInProcess runs `norikv serve --port 0 --no-ui args...` in this
// process until its banner is out. stop ends it (once; later calls
// return the same) and returns its exit status.
func serveInProcess(t *testing.T, args ...string) (stdout, stderr *syncBuffer, stop func() int) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout, stderr = &syncBuffer{}, &syncBuffer{}
	status := make(chan int, 1)
	go func() {
		status <- run(ctx, append([]string{"serve", "--port", "0", "--no-ui"}, args...), IO{stdout, stderr})
	}()
	stop = sync.OnceValue(func() int { cancel(); return <-status })
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(stdout.String(), "Ctrl-C"); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			stop()
			t.Fatalf("no banner; stdout %q stderr %q", stdout.String(), stderr.String())
		}
	}
	return stdout, stderr, stop
}

// startServe runs serve (serveInProcess) and stops it at the end of the
// test; it returns stderr.
func startServe(t *testing.T, args ...string) *syncBuffer {
	t.Helper()
	_, stderr, stop := serveInProcess(t, args...)
	t.Cleanup(func() {
		if s := stop(); s != 0 {
			t.Errorf("serve exited %d; stderr %q", s, stderr.String())
		}
	})
	return stderr
}

// serveRefused runs serve with args and wants it to exit 2 saying want.
func serveRefused(t *testing.T, want string, args ...string) {
	t.Helper()
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // if it starts after all, it stops at once
	if s := run(ctx, append([]string{"serve", "--port", "0", "--no-ui"}, args...), IO{&stdout, &stderr}); s != 2 || !strings.Contains(stderr.String(), want) {
		t.Errorf("serve %v: exit %d, stderr %q; want 2 and %q", args, s, stderr.String(), want)
	}
}

// --metrics-addr without a host listens on loopback, like the nodes.
func TestServeMetricsOnLoopbackByDefault(t *testing.T) {
	stderr := startServe(t, "--metrics-addr", ":0")
	m := regexp.MustCompile(`metrics http://(\S+)/metrics`).FindStringSubmatch(stderr.String())
	if m == nil {
		t.Fatalf("no metrics line: %q", stderr.String())
	}
	host, _, _ := net.SplitHostPort(m[1])
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Fatalf("--metrics-addr :0 listens on %s, want loopback", m[1])
	}
}

// pprof shows the command line (with --token): never on a non-loopback
// listener, and behind the token when there is one.
func TestServePprofSafe(t *testing.T) {
	serveRefused(t, "--pprof", "--metrics-addr", "0.0.0.0:0", "--pprof")
	stderr := startServe(t, "--token", "s3cret", "--metrics-addr", "127.0.0.1:0", "--pprof")
	base := regexp.MustCompile(`pprof (http://\S+)/debug/pprof/`).FindStringSubmatch(stderr.String())[1]
	get := func(token string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/debug/pprof/cmdline", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		tr := &http.Transport{}
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if got := get(""); got != http.StatusUnauthorized {
		t.Errorf("pprof cmdline without the token: %d, want 401", got)
	}
	if got := get("wrong"); got != http.StatusUnauthorized {
		t.Errorf("pprof cmdline with a wrong token: %d, want 401", got)
	}
	if got := get("s3cret"); got != http.StatusOK {
		t.Errorf("pprof cmdline with the token: %d, want 200", got)
	}
}

// serve refuses to listen beyond loopback without a token, unless told
// --insecure, and then says so on every start.
func TestServeHostBeyondLoopbackNeedsToken(t *testing.T) {
	serveRefused(t, "--token", "--host", "0.0.0.0")
	serveRefused(t, "--token", "--host", "192.0.2.1")
	stderr := startServe(t, "--host", "0.0.0.0", "--insecure")
	if !strings.Contains(stderr.String(), "WARNING") {
		t.Errorf("--host 0.0.0.0 --insecure gives no warning: %q", stderr.String())
	}
	startServe(t, "--host", "0.0.0.0", "--token", "s3cret")
	startServe(t, "--host", "localhost")
}

// nonLoopbackIP returns an address of this machine other than loopback,
// from which a request is "from the network" as far as a listener is
// concerned.
func nonLoopbackIP(t *testing.T) net.IP {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && n.IP.To4() != nil {
			return n.IP
		}
	}
	t.Skip("this machine has no non-loopback IPv4 address to attack from")
	return nil
}

// The command's rows of the attack table (server/attack_test.go has the
// node's): metrics and pprof cannot be reached from the network by
// default, nor the nodes without the token.
func TestServeAttacks(t *testing.T) {
	ip := nonLoopbackIP(t)
	stderr := startServe(t, "--token", "s3cret", "--metrics-addr", ":0", "--pprof")
	m := regexp.MustCompile(`metrics http://(\S+)/metrics`).FindStringSubmatch(stderr.String())
	_, port, _ := net.SplitHostPort(m[1])
	if conn, err := net.DialTimeout("tcp", net.JoinHostPort(ip.String(), port), 5*time.Second); err == nil {
		conn.Close()
		t.Errorf("metrics and pprof reachable at %s:%s, from beyond loopback", ip, port)
	} else {
		t.Logf("| /metrics and /debug/pprof/ from %s | refused: %v |", ip, err)
	}
	serveRefused(t, "--pprof", "--metrics-addr", "0.0.0.0:0", "--pprof")
	t.Logf("| --pprof on 0.0.0.0 | refused: exit 2 |")
	serveRefused(t, "--token", "--host", "0.0.0.0")
	t.Logf("| --host 0.0.0.0 without --token | refused: exit 2 |")
}
