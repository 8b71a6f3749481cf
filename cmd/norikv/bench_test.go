package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/norikvtest"
)

func TestBenchJSONAgainstEmbeddedCluster(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runBench(context.Background(), IO{&out, &errOut}, []string{
		"--duration", "300ms", "--concurrency", "4", "--keys", "100", "--protocol", "connect",
		"--dist", "zipf", "--json", "--progress", "--runtime-stats",
		"--timeout", testTimeout, // the default 5s: see testTimeout
	})
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	r := rep.Result
	if rep.Protocol != "connect" || r == nil || r.Ops == 0 || r.Errors != 0 || r.PerOp["get"].Ops == 0 || r.PerOp["put"].Ops == 0 || r.Latency.P50 <= 0 {
		t.Fatalf("report %s", out.String())
	}
	if r.PerOp["get"].Misses != 0 || len(r.Runtime) < 2 {
		t.Fatalf("misses %d, runtime samples %d", r.PerOp["get"].Misses, len(r.Runtime))
	}
	if !strings.Contains(errOut.String(), "\r") {
		t.Errorf("--progress wrote no status line: %q", errOut.String())
	}
}

func TestBenchText(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := runBench(context.Background(), IO{&out, &errOut}, []string{"--duration", "200ms", "--concurrency", "2", "--keys", "50", "--read-ratio", "0", "--timeout", testTimeout}); err != nil {
		t.Fatal(err)
	}
	// "retries N", not "retries 0": on a loaded machine an attempt may
	// time out and be retried, which the report is right to count.
	for _, want := range []string{"embedded cluster", "p99.9", "put", "errors 0, retries "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	if errOut.Len() != 0 {
		t.Errorf("progress written to a non-terminal without --progress: %q", errOut.String())
	}
}

func TestBenchRejectsBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--protocol", "carrier-pigeon"}, {"--dist", "pareto"}, {"--read-ratio", "1.5"},
		{"--concurrency", "0"}, {"--zipf-s", "1"}, {"extra"},
		{"--consistency", "eventually"}, {"--replicas", "fastest"}, {"--hedge-delay", "100us"},
		{"--slow-node", "n2"}, {"--slow-node", "n9=20ms"}, {"--slow-node", "n2=20ms", "--target", "127.0.0.1:1"},
	} {
		var out, errOut bytes.Buffer
		if got := run(context.Background(), append([]string{"bench"}, args...), IO{&out, &errOut}); got != 2 {
			t.Errorf("norikv bench %q: exit status %d, want 2 (stderr %q)", args, got, errOut.String())
		}
	}
}

// Cancelling bench's ctx while it measures stops it with a report. It is
// cancelled once the measured phase has begun (the first --progress line),
// not after a fixed sleep: 700 ms was not always past Connect and the
// preload on a loaded machine ("Connect canceled: context canceled").
func TestBenchStopsWithCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out, errOut syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- runBench(ctx, IO{&out, &errOut}, []string{"--duration", "1h", "--concurrency", "2", "--keys", "10", "--progress", "--timeout", testTimeout})
	}()
	for deadline := time.Now().Add(time.Minute); !strings.Contains(errOut.String(), "\r"); time.Sleep(10 * time.Millisecond) {
		select {
		case err := <-done:
			t.Fatalf("bench ended before measuring: %v\n%s", err, errOut.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("bench did not start measuring within a minute: %q", errOut.String())
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("bench ignored its ctx")
	}
	if !strings.Contains(out.String(), "(interrupted)") {
		t.Errorf("output does not say it was interrupted:\n%s", out.String())
	}
}

// Stale reads with one node slowed: the report counts hedges and the reads
// per node, and --trace prints hedged calls only, each with its hedge.
func TestBenchStaleReadsSlowNode(t *testing.T) {
	var out, errOut bytes.Buffer
	err := runBench(context.Background(), IO{&out, &errOut}, []string{
		"--duration", "500ms", "--concurrency", "4", "--keys", "50", "--read-ratio", "1",
		"--consistency", "stale_ok", "--slow-node", "n2=50ms", "--hedge-delay", "5ms", "--trace",
		"--timeout", testTimeout,
	})
	if err != nil {
		t.Fatalf("bench: %v\n%s", err, errOut.String())
	}
	for _, want := range []string{"hedges sent ", "stale reads to n1 ", "stale reads to n3 "} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	for line := range strings.SplitSeq(errOut.String(), "\n") {
		if strings.HasPrefix(line, "trace ") && !strings.Contains(line, " hedged (") {
			t.Errorf("--trace printed a call that was not hedged: %q", line)
		}
	}
	if strings.Contains(errOut.String(), "trace Get") && !strings.Contains(errOut.String(), " hedge ") {
		t.Errorf("a hedged call's trace without its hedge attempt:\n%s", errOut.String())
	}
}

// --no-batch sends every call alone: the target never sees a Kv.Batch,
// and the report says batching was off.
func TestBenchNoBatch(t *testing.T) {
	var batches atomic.Int64
	cl := norikvtest.Start(t, norikvtest.WithFaults(func(ctx context.Context, node, procedure string, req any) error {
		if procedure == norikvv1connect.KvBatchProcedure {
			batches.Add(1)
		}
		return nil
	}))
	var out, errOut bytes.Buffer
	err := runBench(context.Background(), IO{&out, &errOut}, []string{
		"--target", strings.Join(cl.Addrs(), ","), "--shards", strconv.Itoa(cl.Shards()),
		"--duration", "300ms", "--concurrency", "32", "--keys", "100", "--no-batch", "--json",
		"--timeout", testTimeout,
	})
	if err != nil {
		t.Fatalf("bench --no-batch: %v\n%s", err, errOut.String())
	}
	var rep benchReport
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	if rep.Batching || rep.Result == nil || rep.Result.Ops == 0 {
		t.Fatalf("report %s", out.String())
	}
	if n := batches.Load(); n != 0 {
		t.Fatalf("bench --no-batch sent %d Kv.Batch exchanges", n)
	}
}
