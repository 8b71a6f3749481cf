package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	norikv "github.com/norikv/norikv-go/client"
)

// serveForTest runs `norikv serve args...` until the test ends and returns
// the node addresses and the command's stderr.
func serveForTest(t *testing.T, args ...string) ([]string, *syncBuffer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	status := make(chan int, 1)
	go func() { status <- run(ctx, append([]string{"serve"}, args...), IO{&stdout, &stderr}) }()
	t.Cleanup(func() {
		cancel()
		if s := <-status; s != 0 {
			t.Errorf("serve exited %d; stderr %q", s, stderr.String())
		}
	})
	line := regexp.MustCompile(`(?m)^n\d+ (\S+)$`)
	for deadline := time.Now().Add(20 * time.Second); ; {
		if m := line.FindAllStringSubmatch(stdout.String(), -1); len(m) > 0 && strings.Contains(stderr.String(), "metrics http://") {
			var addrs []string
			for _, x := range m {
				addrs = append(addrs, x[1])
			}
			return addrs, &stderr
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start; stdout %q stderr %q", stdout.String(), stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	res, err := (&http.Client{Transport: tr}).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v", url, res.Status, err)
	}
	return string(body)
}

func TestServeMetrics(t *testing.T) {
	addrs, stderr := serveForTest(t, "--nodes", "2", "--shards", "4", "--port", "0", "--metrics-addr", "127.0.0.1:0", "--pprof")
	base := regexp.MustCompile(`metrics (http://\S+)/metrics`).FindStringSubmatch(stderr.String())[1]

	// A generous Timeout (see testTimeout): an attempt timed out on a
	// loaded machine would be retried, and the counts below are exact.
	c, err := norikv.New(norikv.Config{Nodes: addrs, Timeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if _, err := c.Put(ctx, "k", []byte("v"), norikv.WithTTL(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(ctx, "missing"); err == nil {
		t.Fatal("Get of a missing key succeeded")
	}
	if _, err := c.VectorCreateIndex(ctx, "docs", 2, norikv.DistanceCosine, norikv.IndexBruteForce); err != nil {
		t.Fatal(err)
	}
	if _, err := c.VectorInsert(ctx, "docs", "a", []float32{1, 0}); err != nil {
		t.Fatal(err)
	}

	body := scrape(t, base+"/metrics")
	for _, want := range []string{
		`# TYPE norikv_requests_total counter`,
		`norikv_requests_total{node="n\d",rpc="/norikv.v1.Kv/Put",code="ok"} 1`,
		`norikv_requests_total{node="n\d",rpc="/norikv.v1.Kv/Get",code="ok"} 1`,
		`# TYPE norikv_request_duration_seconds histogram`,
		`norikv_request_duration_seconds_bucket{node="n\d",rpc="/norikv.v1.Kv/Put",le="\+Inf"} 1`,
		`norikv_request_duration_seconds_count{node="n\d",rpc="/norikv.v1.Kv/Put"} 1`,
		`norikv_node_up{node="n1"} 1`,
		`norikv_cluster_epoch [1-9]`,
		`norikv_shard_leader{shard="0",node="n1"} 1`,
		`norikv_shard_leader{shard="3",node="n2"} 1`,
		`norikv_keys 1`,
		`norikv_ttl_heap_size 1`,
		// The Put, CreateIndex and Insert carry session keys (the
		// client learnt the view, which announces sessions), not keys for
		// the TTL cache; each one's watermark dropped the answer before.
		`norikv_idempotency_cache_entries 0`,
		`norikv_idempotency_cache_evictions_total 0`,
		`norikv_idempotency_sessions 1`,
		`norikv_idempotency_session_answers 1`,
		`norikv_vector_index_vectors{namespace="docs"} 1`,
		`norikv_vector_index_bytes{namespace="docs"} [1-9]`,
	} {
		if !regexp.MustCompile(`(?m)^` + want).MatchString(body) {
			t.Errorf("/metrics has no line %s", want)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", body)
	}
	if !strings.Contains(scrape(t, base+"/debug/pprof/"), "goroutine") {
		t.Error("no pprof index")
	}
}

func TestServePprofNeedsMetricsAddr(t *testing.T) {
	var stdout, stderr syncBuffer
	if s := run(context.Background(), []string{"serve", "--pprof"}, IO{&stdout, &stderr}); s != 2 {
		t.Fatalf("exit %d, want 2; stderr %q", s, stderr.String())
	}
	if !strings.Contains(stderr.String(), "--pprof needs --metrics-addr") {
		t.Fatalf("stderr %q", stderr.String())
	}
}
