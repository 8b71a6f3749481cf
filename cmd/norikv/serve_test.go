package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

// syncBuffer is a bytes.Buffer safe to write from the command while the
// test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr syncBuffer
	status := make(chan int, 1)
	go func() {
		status <- run(ctx, []string{"serve", "--nodes", "2", "--shards", "16", "--port", "0", "--token", "tok"}, IO{&stdout, &stderr})
	}()
	line := regexp.MustCompile(`(?m)^(n[12]) (127\.0\.0\.1:\d+)$`)
	deadline := time.Now().Add(20 * time.Second)
	for len(line.FindAllString(stdout.String(), -1)) < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("no node lines; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	addrs := map[string]string{}
	for _, m := range line.FindAllStringSubmatch(stdout.String(), -1) {
		addrs[m[1]] = m[2]
	}
	if len(addrs) != 2 {
		t.Fatalf("stdout %q", stdout.String())
	}
	// Only the leader of the key's shard takes the write; the other node
	// answers NOT_LEADER. Try both: exactly one must work.
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	oks := 0
	for _, addr := range addrs {
		kv := norikvv1connect.NewKvClient(hc, "http://"+addr, withToken("tok"))
		if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("hello"), Value: []byte("world")}); err != nil {
			continue
		}
		got, err := kv.Get(ctx, &v1.GetRequest{Key: []byte("hello")})
		if err != nil || string(got.Value) != "world" {
			t.Fatalf("get = %v, %v", got, err)
		}
		oks++
	}
	if oks != 1 {
		t.Fatalf("%d nodes accepted the put, want 1 (the leader)", oks)
	}
	cancel() // as SIGINT would
	select {
	case code := <-status:
		if code != 0 {
			t.Fatalf("exit status %d, stderr %q", code, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not shut down")
	}
}

func TestServeErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.pem")
	if err := os.WriteFile(bad, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args   []string
		status int
		stderr string
	}{
		{[]string{}, 2, "Usage: norikv"},
		{[]string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{[]string{"serve", "--bogus"}, 2, "flag provided but not defined"},
		{[]string{"serve", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"serve", "--nodes", "0"}, 2, "--nodes"},
		{[]string{"serve", "--nodes", "2", "--replication", "3"}, 2, "--replication"},
		{[]string{"serve", "--port", "70000"}, 2, "--port"},
		{[]string{"serve", "--tls-cert", bad}, 2, "--tls-key"},
		{[]string{"serve", "--grpc-only", "--cors-origin", "*"}, 2, "--grpc-only and --cors-origin"},
		{[]string{"serve", "--port", "0", "--tls-cert", bad, "--tls-key", bad}, 1, "TLS key pair"},
	} {
		var stdout, stderr syncBuffer
		got := run(context.Background(), tc.args, IO{&stdout, &stderr})
		if got != tc.status || !strings.Contains(stderr.String(), tc.stderr) {
			t.Errorf("%v: status %d stderr %q; want %d and %q", tc.args, got, stderr.String(), tc.status, tc.stderr)
		}
		if tc.status == 1 && strings.Count(strings.TrimSpace(stderr.String()), "\n") != 0 {
			t.Errorf("%v: error is not one line: %q", tc.args, stderr.String())
		}
	}
}

// A port already in use is a clear one-line error.
func TestServePortInUse(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out1, err1 syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--nodes", "1", "--shards", "1", "--port", "0"}, IO{&out1, &err1})
	}()
	deadline := time.Now().Add(20 * time.Second)
	nodeLine := regexp.MustCompile(`(?m)^n1 127\.0\.0\.1:(\d+)$`)
	for !nodeLine.MatchString(out1.String()) {
		if time.Now().After(deadline) {
			t.Fatal("first server did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	port := nodeLine.FindStringSubmatch(out1.String())[1]
	var out2, err2 syncBuffer
	if got := run(context.Background(), []string{"serve", "--nodes", "1", "--port", port}, IO{&out2, &err2}); got != 1 || !strings.Contains(err2.String(), "address already in use") {
		t.Fatalf("status %d stderr %q", got, err2.String())
	}
	cancel()
	<-done
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{{"help"}, {"--help"}, {"serve", "--help"}, {"help", "serve"}} {
		var stdout, stderr syncBuffer
		if got := run(context.Background(), args, IO{&stdout, &stderr}); got != 0 {
			t.Fatalf("%v: status %d", args, got)
		}
		if !strings.Contains(stdout.String(), "serve") || stderr.String() != "" {
			t.Fatalf("%v: stdout %q stderr %q", args, stdout.String(), stderr.String())
		}
	}
	var stdout syncBuffer
	run(context.Background(), []string{"serve", "--help"}, IO{&stdout, &stdout})
	if !strings.Contains(stdout.String(), "Examples:") || strings.Count(stdout.String(), "Usage:") != 1 {
		t.Fatalf("serve --help: %q", stdout.String())
	}
}
