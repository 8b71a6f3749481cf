package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/norikv/norikv-go/norikvtest"
)

// Random bytes through "put -" and "get" come back byte for byte: a pipe
// is not a terminal, so get adds no newline; --json carries a non-UTF-8
// value in value_base64 and a UTF-8 one in value.
func TestBinaryValueRoundTrip(t *testing.T) {
	c, _ := newCLI(t)
	value := make([]byte, 64)
	rand.Read(value)
	value[0] = 0xff // never valid UTF-8
	c.execOK(value, "put", "b", "-")
	if got := c.execOK(nil, "get", "b"); !bytes.Equal(got, value) {
		t.Fatalf("get wrote %d bytes %x; put %d bytes %x", len(got), got, len(value), value)
	}
	var js map[string]any
	if err := json.Unmarshal(c.execOK(nil, "get", "b", "--json"), &js); err != nil {
		t.Fatal(err)
	}
	raw, err := base64.StdEncoding.DecodeString(js["value_base64"].(string))
	if _, has := js["value"]; has || err != nil || !bytes.Equal(raw, value) {
		t.Fatalf("get --json of binary = %v (decoded %x, %v)", js, raw, err)
	}

	text := []byte("line one\nline two\n")
	c.execOK(text, "put", "doc", "-")
	if got := c.execOK(nil, "get", "doc"); !bytes.Equal(got, text) {
		t.Fatalf("get = %q, want %q", got, text)
	}
	js = nil
	if err := json.Unmarshal(c.execOK(nil, "get", "doc", "--json"), &js); err != nil || js["value"] != string(text) || js["value_base64"] != nil {
		t.Fatalf("get --json of text = %v, %v", js, err)
	}
}

// serve's banner says what runs where, how to stop it and what to try
// next; the command it suggests works as printed.
func TestBinaryServeBanner(t *testing.T) {
	p := startBinary(t, "serve", "--nodes", "2", "--shards", "16", "--port", "0", "--token", "tok")
	header := p.waitLine("out: ")
	if !regexp.MustCompile(`^out: NoriKV development cluster: 2 nodes, 16 shards, replication 2 `).MatchString(header) {
		t.Fatalf("first line %q", header)
	}
	var addrs []string
	for _, id := range []string{"n1", "n2"} {
		l := p.waitLine("out: " + id + " ")
		m := regexp.MustCompile(`^out: n\d (127\.0\.0\.1:\d+)$`).FindStringSubmatch(l)
		if m == nil {
			t.Fatalf("node line %q", l)
		}
		addrs = append(addrs, m[1])
	}
	// The banner names the web console, and n1 serves it there.
	ui := strings.TrimPrefix(p.waitLine("out: Web console: "), "out: Web console: ")
	if want := "http://" + addrs[0] + "/ui/"; ui != want {
		t.Fatalf("console URL %q, want %q", ui, want)
	}
	res, err := http.Get(ui)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(page), "<html") {
		t.Fatalf("GET %s: %s, %.80q", ui, res.Status, page)
	}
	p.waitLine("out: Ctrl-C to stop.")
	next := strings.TrimPrefix(p.waitLine("out:   norikv put "), "out:   norikv ")
	want := "put user:alice Alice --target " + strings.Join(addrs, ",") + " --token tok"
	if next != want {
		t.Fatalf("suggested %q, want %q", next, want)
	}
	// Run it as suggested (exec appends the same --target again).
	c := &cli{t: t, target: strings.Join(addrs, ",")}
	if out := string(c.execOK(nil, strings.Fields(next)...)); !strings.HasPrefix(out, "version ") {
		t.Fatalf("the suggested put printed %q", out)
	}
	if st := p.interrupt(); st != 0 {
		t.Fatalf("serve after Ctrl-C: exit status %d", st)
	}
}

// cluster transfer moves a shard's leadership (by shard or by key) with
// Admin.TransferShard, and says what moved; bad requests are one clear
// line.
func TestBinaryClusterTransfer(t *testing.T) {
	c, cl := newCLI(t)
	shard := cl.ShardOf([]byte("user:alice"))
	from := cl.Leader(shard)
	to := map[bool]string{true: "n2", false: "n1"}[from == "n1"]
	out := string(c.execOK(nil, "cluster", "transfer", "--key", "user:alice", "--to", to))
	if want := "shard " + itoa(shard) + ": leader " + from + " -> " + to + "\n"; out != want {
		t.Fatalf("transfer printed %q, want %q", out, want)
	}
	if got := cl.Leader(shard); got != to {
		t.Fatalf("leader of shard %d is %s after the transfer, want %s", shard, got, to)
	}
	// --shard, with --json; to the current leader it is a no-op.
	var js struct {
		Shard            uint32
		Previous, Leader string
		Moved            bool
	}
	if err := json.Unmarshal(c.execOK(nil, "cluster", "transfer", "--shard", itoa(shard), "--to", to, "--json", "--protocol", "connect"), &js); err != nil ||
		js.Shard != shard || js.Previous != to || js.Leader != to || js.Moved {
		t.Fatalf("transfer --json = %+v, %v", js, err)
	}
	for _, tc := range []struct {
		status int
		want   string
		args   []string
	}{
		{exitUsage, "missing --to", []string{"cluster", "transfer", "--shard", "1"}},
		{exitUsage, "say which shard: --shard N or --key K", []string{"cluster", "transfer", "--to", "n1"}},
		{exitUsage, "exclusive", []string{"cluster", "transfer", "--shard", "1", "--key", "k", "--to", "n1"}},
		{exitUsage, "no shard 64 (the cluster has 64", []string{"cluster", "transfer", "--shard", "64", "--to", "n1"}},
		{exitUsage, `no node "n9" (nodes: n1 n2 n3)`, []string{"cluster", "transfer", "--shard", "1", "--to", "n9"}},
	} {
		r := c.exec(nil, tc.args...)
		if r.status != tc.status || !strings.Contains(string(r.stderr), tc.want) || strings.Count(strings.TrimSpace(string(r.stderr)), "\n") != 0 {
			t.Errorf("%v: status %d stderr %q; want %d and %q", tc.args, r.status, r.stderr, tc.status, tc.want)
		}
	}
	// A node that is down cannot lead: the server's reason, exit 1.
	if err := cl.StopNode(to); err != nil {
		t.Fatal(err)
	}
	r := c.exec(nil, "cluster", "transfer", "--shard", itoa(shard), "--to", to)
	if r.status != exitError || !strings.Contains(string(r.stderr), "transfer refused: failed_precondition: node "+to+" is down") {
		t.Fatalf("transfer to a stopped node: status %d stderr %q", r.status, r.stderr)
	}
}

// watch says when its stream ends (the node, or the whole cluster, went
// away) and when it is back, on stderr; events stay on stdout.
func TestBinaryWatchReportsLostAndBack(t *testing.T) {
	c, cl := newCLI(t, norikvtest.WithNodes(1), norikvtest.WithShards(4))
	p := startBinary(t, "watch", "--target", c.target)
	p.waitLine("out: ") // the initial view
	p.mu.Lock()
	for _, l := range p.seen {
		if strings.HasPrefix(l, "err: ") {
			t.Fatalf("watch reported %q before any node stopped", l)
		}
	}
	p.mu.Unlock()
	if err := cl.StopNode("n1"); err != nil {
		t.Fatal(err)
	}
	p.waitLine("lost the cluster: the watch stream ended; reconnecting")
	if err := cl.RestartNode("n1"); err != nil {
		t.Fatal(err)
	}
	p.waitLine(" reconnected")
	if st := p.interrupt(); st != 0 {
		t.Fatalf("watch after Ctrl-C: exit status %d", st)
	}
}
