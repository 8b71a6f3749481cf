package main

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/norikvtest"
)

func TestTraceFlag(t *testing.T) {
	c, cl := newCLI(t)
	r := c.run("put", "k", "v", "--trace")
	if r.status != 0 {
		t.Fatalf("status %d stderr %q", r.status, r.stderr)
	}
	leader := cl.Addr(cl.Leader(cl.ShardOf([]byte("k"))))
	want := regexp.MustCompile(`^trace Put shard=\d+ attempts=1 retries=0 redirects=0 ok \d+\.\dms\n  #1 \+\S+ +` + regexp.QuoteMeta(leader) + ` first +\d+\.\dms ok\n$`)
	if !want.MatchString(r.stderr) {
		t.Fatalf("stderr %q, want it to match %s", r.stderr, want)
	}
	if r := c.run("put", "k", "v"); r.stderr != "" {
		t.Fatalf("without --trace, stderr %q", r.stderr)
	}
	// An unreachable target: the failed fetch of the view is traced too.
	dead := &cli{t: t, target: "127.0.0.1:1"}
	r = dead.run("get", "k", "--trace", "--timeout", "500ms")
	if r.status != exitError || !regexp.MustCompile(`(?m)^trace Connect \(the cluster view, asked of 127\.0\.0\.1:1\) \d+\.\dms .*127\.0\.0\.1:1`).MatchString(r.stderr) {
		t.Fatalf("--trace against a dead target: status %d stderr %q", r.status, r.stderr)
	}
}

// The trace shows a redirect: the first attempt's NOT_LEADER, then the
// attempt at the leader it named.
func TestTraceShowsRedirect(t *testing.T) {
	cl := norikvtest.Start(t, norikvtest.WithShards(8))
	var out syncBuffer
	c, err := norikv.New(norikv.Config{Nodes: cl.Addrs(), TotalShards: cl.Shards(), DisableWatch: true, Observer: newTraceObserver(&out),
		Timeout: 30 * time.Second, // no attempt timeout on a loaded machine to add a retry to the trace (see testTimeout)
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	if err := c.Connect(ctx); err != nil { // one view, then no watch: stale after the transfer
		t.Fatal(err)
	}
	if _, err := c.Put(ctx, "k", []byte("a")); err != nil {
		t.Fatal(err)
	}
	shard := cl.ShardOf([]byte("k"))
	old := cl.Leader(shard)
	next := cl.NodeIDs()[0]
	if next == old {
		next = cl.NodeIDs()[1]
	}
	if err := cl.TransferLeader(shard, next); err != nil {
		t.Fatal(err)
	}
	before := len(out.String())
	if _, err := c.Put(ctx, "k", []byte("b")); err != nil {
		t.Fatal(err)
	}
	got := out.String()[before:]
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 3 ||
		!strings.Contains(lines[0], "attempts=2 retries=0 redirects=1 ok") ||
		!strings.Contains(lines[1], cl.Addr(old)+" first") || !strings.Contains(lines[1], "NOT_LEADER") ||
		!strings.Contains(lines[2], cl.Addr(next)+" redirect") || !strings.HasSuffix(lines[2], " ok") {
		t.Fatalf("trace (old %s, next %s):\n%q", cl.Addr(old), cl.Addr(next), got)
	}
	t.Logf("trace (old %s, next %s):\n%s", cl.Addr(old), cl.Addr(next), got)
}
