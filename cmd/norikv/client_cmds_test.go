package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/norikv/norikv-go/internal/testcert"
	"github.com/norikv/norikv-go/norikvtest"
)

// cli runs the command line against c, adding --target (and nothing else:
// the shard count is learnt from the cluster, which this exercises too).
type cli struct {
	t      *testing.T
	target string
}

func newCLI(t *testing.T, opts ...norikvtest.Option) (*cli, *norikvtest.Cluster) {
	c := norikvtest.Start(t, append([]norikvtest.Option{norikvtest.WithShards(64)}, opts...)...)
	return &cli{t: t, target: strings.Join(c.Addrs(), ",")}, c
}

type result struct {
	status         int
	stdout, stderr string
}

// testTimeout is the --timeout the helpers give a command that sets none.
// Under the default, norikv.DefaultTimeout (5s), a loaded 2-core machine
// under -race can spend most of it on the first view (the one-shot fetch
// gives each seed a quarter of it, then twice that) and a slow Put's
// attempts time out too. These tests are about what the commands do, not
// how fast; the ones about --timeout itself pass their own.
const testTimeout = "30s"

// cmdArgs is args plus --target, and --timeout testTimeout unless args
// set one or the command takes none (conformance).
func (c *cli) cmdArgs(args []string) []string {
	if len(args) > 0 && args[0] != "conformance" && !slices.Contains(args, "--timeout") {
		args = append(args, "--timeout", testTimeout)
	}
	return append(args, "--target", c.target)
}

func (c *cli) run(args ...string) result {
	c.t.Helper()
	var stdout, stderr syncBuffer
	st := run(context.Background(), c.cmdArgs(args), IO{&stdout, &stderr})
	return result{st, stdout.String(), stderr.String()}
}

// ok runs args and fails unless they exit 0; it returns stdout.
func (c *cli) ok(args ...string) string {
	c.t.Helper()
	r := c.run(args...)
	if r.status != 0 {
		c.t.Fatalf("%v: status %d, stderr %q", args, r.status, r.stderr)
	}
	return r.stdout
}

// fails runs args and checks the exit status and a one-line stderr
// containing want.
func (c *cli) fails(status int, want string, args ...string) {
	c.t.Helper()
	r := c.run(args...)
	if r.status != status || !strings.Contains(r.stderr, want) {
		c.t.Fatalf("%v: status %d stderr %q; want %d and %q", args, r.status, r.stderr, status, want)
	}
	if strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 || !strings.HasPrefix(r.stderr, "norikv ") {
		c.t.Fatalf("%v: stderr is not one 'norikv ...' line: %q", args, r.stderr)
	}
}

var versionLine = regexp.MustCompile(`^version (\d+:\d+)\n$`)

func TestGetPutDel(t *testing.T) {
	c, _ := newCLI(t)
	out := c.ok("put", "user:alice", "Alice")
	m := versionLine.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("put printed %q", out)
	}
	if got := c.ok("get", "user:alice"); got != "Alice" {
		t.Fatalf("get = %q", got)
	}
	var js struct {
		Key, Value, Version string
		Found               bool
	}
	if err := json.Unmarshal([]byte(c.ok("get", "--json", "user:alice")), &js); err != nil || js.Key != "user:alice" || js.Value != "Alice" || js.Version != m[1] || !js.Found {
		t.Fatalf("get --json = %+v, %v", js, err)
	}
	if got := c.ok("get", "user:alice", "--consistency", "linearizable", "--protocol", "connect"); got != "Alice" {
		t.Fatalf("linearizable get over connect = %q", got)
	}
	if got := c.ok("del", "user:alice"); got != "deleted\n" {
		t.Fatalf("del = %q", got)
	}
	c.fails(exitNotFound, `key "user:alice" not found`, "get", "user:alice")
	// With --json a missing key is an object saying so, and still exit 3.
	if r := c.run("get", "user:alice", "--json"); r.status != exitNotFound || r.stdout != `{"key":"user:alice","found":false}`+"\n" {
		t.Fatalf("get --json of a missing key: status %d stdout %q", r.status, r.stdout)
	}
	// Deleting a missing key succeeds, as in the SDK, and says that nothing
	// was there (the server's DeleteResponse.tombstoned).
	if got := c.ok("del", "user:alice", "--protocol", "grpcweb"); got != "not found (nothing deleted)\n" {
		t.Fatalf("del of a missing key = %q", got)
	}
	if got := c.ok("del", "nothing-here", "--json"); got != `{"key":"nothing-here","deleted":false}`+"\n" {
		t.Fatalf("del --json of a missing key = %q", got)
	}
}

func TestPutCompareAndSwap(t *testing.T) {
	c, _ := newCLI(t)
	v1 := versionLine.FindStringSubmatch(c.ok("put", "counter", "41"))[1]
	v2 := versionLine.FindStringSubmatch(c.ok("put", "counter", "42", "--if-match", v1))[1]
	// v1 is stale now: the CAS loses, with its own exit status.
	c.fails(exitConflict, "version mismatch", "put", "counter", "43", "--if-match", v1)
	c.fails(exitConflict, "version mismatch", "del", "counter", "--if-match", v1)
	if got := c.ok("get", "counter"); got != "42" {
		t.Fatalf("after lost CAS, get = %q", got)
	}
	// The older "term.index" spelling is still accepted.
	c.ok("del", "counter", "--if-match", strings.Replace(v2, ":", ".", 1))
	c.fails(exitNotFound, "not found", "get", "counter")
}

func TestPutIdempotencyKeyAndTTL(t *testing.T) {
	c, _ := newCLI(t)
	a := c.ok("put", "order:7", "paid", "--idempotency-key", "order-7-paid")
	b := c.ok("put", "order:7", "paid", "--idempotency-key", "order-7-paid")
	if a != b {
		t.Fatalf("repeated idempotent put printed %q then %q", a, b)
	}
	out := c.ok("put", "session:abc", "token", "--ttl", "300ms", "--json")
	if !strings.Contains(out, `"ttl_ms":300}`) {
		t.Fatalf("put --json = %q", out)
	}
	// Poll rather than sleep a fixed time: the machine may be slow.
	deadline := time.Now().Add(10 * time.Second)
	for c.run("get", "session:abc").status != exitNotFound {
		if time.Now().After(deadline) {
			t.Fatal("key with --ttl 300ms did not expire")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPutFromStdin(t *testing.T) {
	c, _ := newCLI(t)
	old := stdin
	stdin = strings.NewReader("line one\nline two")
	t.Cleanup(func() { stdin = old })
	c.ok("put", "doc:1", "-")
	if got := c.ok("get", "doc:1"); got != "line one\nline two" {
		t.Fatalf("get = %q", got)
	}
}

func TestUsageErrors(t *testing.T) {
	c, _ := newCLI(t)
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"missing <key>", []string{"get"}},
		{`unexpected argument "b"`, []string{"get", "a", "b"}},
		{"missing <value>", []string{"put", "k"}},
		{"flag provided but not defined: -bogus", []string{"get", "k", "--bogus"}},
		{`want term:index`, []string{"put", "k", "v", "--if-match", "seven"}},
		{`--protocol "carrier-pigeon"`, []string{"get", "k", "--protocol", "carrier-pigeon"}},
		{`--consistency "eventual"`, []string{"get", "k", "--consistency", "eventual"}},
		{"--ttl must not be negative", []string{"put", "k", "v", "--ttl", "-1s"}},
		{"--shards must not be negative", []string{"get", "k", "--shards", "-1"}},
		{`invalid value "5" for flag -ttl: missing unit: write 5s or 5ms (units: ns, us, ms, s, m, h)`, []string{"put", "k", "v", "--ttl", "5"}},
		{`invalid value "soon" for flag -timeout: not a duration: write e.g. 5s, 500ms`, []string{"get", "k", "--timeout", "soon"}},
		{"--timeout 1ns: want at least 1ms (e.g. 5s or 500ms)", []string{"get", "k", "--timeout", "1ns"}},
		{"--count must not be negative", []string{"watch", "--count", "-1"}},
		{"exclusive", []string{"cluster", "--shard", "1", "--key", "k"}},
		{"no shard 64", []string{"cluster", "--shard", "64"}},
		{`unknown verb "frob"`, []string{"vector", "frob"}},
		{"missing --dims (the vectors' dimensions, e.g. --dims 384)", []string{"vector", "create", "ns"}},
		{"(see 'norikv vector create --help')", []string{"vector", "create", "ns"}},
		{"(see 'norikv cluster transfer --help')", []string{"cluster", "transfer", "--shard", "1"}},
		{"--dims must be at least 1", []string{"vector", "create", "ns", "--dims", "0"}},
		{`--distance "manhattan"`, []string{"vector", "create", "ns", "--dims", "2", "--distance", "manhattan"}},
		{"is not a number", []string{"vector", "insert", "ns", "id", "1,x"}},
		{"--k must be at least 1", []string{"vector", "search", "ns", "1,2", "--k", "0"}},
		{`unknown name "nope"`, []string{"conformance", "--cases", "nope"}},
		{`unknown name "smoke/signals"`, []string{"conformance", "--transports", "smoke/signals"}},
	} {
		c.fails(exitUsage, tc.want, tc.args...)
	}
}

func TestUnreachableAndToken(t *testing.T) {
	c, _ := newCLI(t, norikvtest.WithToken("s3cret"))
	t.Setenv(tokenEnv, "")
	c.fails(exitError, "the cluster wants a token: pass --token TOKEN or set NORIKV_TOKEN", "put", "k", "v", "--shards", "64")
	c.fails(exitError, "the cluster refused the --token given", "get", "k", "--token", "wrong")
	c.ok("put", "k", "v", "--token", "s3cret")
	c.ok("cluster", "transfer", "--shard", "0", "--to", "n1", "--token", "s3cret")
	c.fails(exitError, "the cluster wants a token", "cluster", "transfer", "--shard", "0", "--to", "n1", "--shards", "64")
	// NORIKV_TOKEN is --token's default.
	t.Setenv(tokenEnv, "s3cret")
	if got := c.ok("get", "k"); got != "v" {
		t.Fatalf("get with NORIKV_TOKEN = %q", got)
	}
	t.Setenv(tokenEnv, "stale")
	c.fails(exitError, "the cluster refused the token in NORIKV_TOKEN", "get", "k")
	t.Setenv(tokenEnv, "")
	if got := c.ok("get", "k", "--token", "s3cret", "--protocol", "grpcweb"); got != "v" {
		t.Fatalf("get = %q", got)
	}
	// A closed port: one clear line, exit status 1, as soon as the
	// connection is refused (the helper's long --timeout: with 500ms, the
	// 125ms a seed is given could run out first on a loaded machine, and
	// the line would be about a missing view instead).
	dead := &cli{t: t, target: "127.0.0.1:1"}
	dead.fails(exitError, "cannot reach 127.0.0.1:1", "get", "k")
	dead.fails(exitError, "cannot reach", "get", "k", "--shards", "64")
}

func TestCluster(t *testing.T) {
	c, cl := newCLI(t)
	out := c.ok("cluster")
	if !strings.HasPrefix(out, "epoch ") || !strings.Contains(out, "3 nodes, 64 shards\n") ||
		!regexp.MustCompile(`(?m)^NODE +ADDRESS +ROLE +LEADS +REPLICAS$`).MatchString(out) ||
		len(regexp.MustCompile(`(?m)^n[123] +127\.0\.0\.1:\d+ +\S+ +\d+ +64$`).FindAllString(out, -1)) != 3 {
		t.Fatalf("cluster =\n%s", out)
	}
	shard := cl.ShardOf([]byte("user:alice"))
	leader := cl.Leader(shard)
	out = c.ok("cluster", "--key", "user:alice")
	if !strings.Contains(out, "shard "+itoa(shard)+": leader "+leader+" ("+cl.Addr(leader)+")") {
		t.Fatalf("cluster --key =\n%s", out)
	}
	var one struct {
		Shard    uint32
		Leader   string
		Replicas []string
	}
	if err := json.Unmarshal([]byte(c.ok("cluster", "--shard", itoa(shard), "--json")), &one); err != nil ||
		one.Shard != shard || one.Leader != leader || len(one.Replicas) != 3 {
		t.Fatalf("cluster --shard --json = %+v, %v", one, err)
	}
	var all struct {
		Epoch  uint64
		Nodes  []struct{ ID, Addr string }
		Shards []struct{ Leader string }
	}
	if err := json.Unmarshal([]byte(c.ok("cluster", "--json")), &all); err != nil || len(all.Nodes) != 3 || len(all.Shards) != 64 || all.Epoch == 0 {
		t.Fatalf("cluster --json = %+v, %v", all, err)
	}
}

func itoa(n uint32) string { return strconv.FormatUint(uint64(n), 10) }

// watchOne runs "watch --count 1" against c in the background.
func watchOne(t *testing.T, c *cli) (done chan int, stdout, stderr *syncBuffer) {
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done, stdout, stderr = make(chan int, 1), &syncBuffer{}, &syncBuffer{}
	go func() {
		done <- run(ctx, []string{"watch", "--count", "1", "--target", c.target}, IO{stdout, stderr})
	}()
	return done, stdout, stderr
}

// waitExit waits for a watchOne to end with status 0.
func waitExit(t *testing.T, done chan int, stdout, stderr *syncBuffer) {
	t.Helper()
	select {
	case st := <-done:
		if st != 0 {
			t.Fatalf("status %d stderr %q", st, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("watch --count 1 did not end; stdout %q stderr %q", stdout.String(), stderr.String())
	}
}

// moveLeader moves the leadership of key k's shard to another node.
func moveLeader(t *testing.T, cl *norikvtest.Cluster) (shard uint32, to string) {
	t.Helper()
	shard, to = cl.ShardOf([]byte("k")), "n1"
	if cl.Leader(shard) == "n1" {
		to = "n2"
	}
	if err := cl.TransferLeader(shard, to); err != nil {
		t.Fatal(err)
	}
	return shard, to
}

func TestWatch(t *testing.T) {
	c, cl := newCLI(t)
	done, stdout, stderr := watchOne(t, c)
	waitFor(t, stdout, "(initial view); nodes: n1 n2 n3; 64 shard leaders")
	// Move one leader: the second event names it, and the command exits.
	shard, to := moveLeader(t, cl)
	waitExit(t, done, stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "1 leader change(s): shard "+itoa(shard)) || !strings.HasSuffix(lines[1], "->"+to) {
		t.Fatalf("watch printed %q", stdout.String())
	}

	// Without --count it runs until interrupted, and an interrupt is not
	// an error.
	var out2 syncBuffer
	ctx2, cancel2 := context.WithCancel(context.Background())
	go func() { done <- run(ctx2, []string{"watch", "--json", "--target", c.target}, IO{&out2, stderr}) }()
	waitFor(t, &out2, `"previous_epoch":0`)
	cancel2()
	if st := <-done; st != 0 {
		t.Fatalf("interrupted watch: status %d", st)
	}
}

// watch follows a cluster restarted under it (an in-memory "norikv serve"
// stopped and started again, back at epoch 1) from its first view: the
// lower epoch is not taken for an old view.
func TestWatchFollowsRestart(t *testing.T) {
	c, cl := newCLI(t)
	shard, to := moveLeader(t, cl)
	done, stdout, stderr := watchOne(t, c)
	waitFor(t, stdout, "epoch 0 -> 2 (initial view)")
	cl.Restart(t)
	waitExit(t, done, stdout, stderr)
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[1], "epoch 2 -> 1 (cluster restarted: a new cluster, its epochs start over); 1 leader change(s): shard "+itoa(shard)+" "+to+"->") {
		t.Fatalf("watch printed %q", stdout.String())
	}
}

func waitFor(t *testing.T, b *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(b.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("waited for %q; have %q", want, b.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestVector(t *testing.T) {
	c, _ := newCLI(t)
	if got := c.ok("vector", "create", "products", "--dims", "3", "--distance", "euclidean", "--index", "brute_force"); got != "created\n" {
		t.Fatalf("create = %q", got)
	}
	if got := c.ok("vector", "create", "products", "--dims", "3", "--distance", "euclidean", "--index", "brute_force"); got != "already exists\n" {
		t.Fatalf("second create = %q", got)
	}
	// The same namespace with other settings is an error, not a no-op.
	c.fails(exitError, "already exists", "vector", "create", "products", "--dims", "4")
	for id, v := range map[string]string{"shoe-red": "1,0,0", "shoe-blue": "0.9,0.1,0", "hat": "[0, 0, 1]"} {
		if out := c.ok("vector", "insert", "products", id, v); !versionLine.MatchString(out) {
			t.Fatalf("insert = %q", out)
		}
	}
	// An idempotent insert repeated answers with the first version.
	a := c.ok("vector", "insert", "products", "sock", "0,1,0", "--idempotency-key", "ins-sock")
	if b := c.ok("vector", "insert", "products", "sock", "0,1,0", "--idempotency-key", "ins-sock"); a != b {
		t.Fatalf("idempotent inserts printed %q then %q", a, b)
	}
	c.fails(exitUsage, "not defined: -idempotency-key", "vector", "search", "products", "1,0,0", "--idempotency-key", "x")
	out := c.ok("vector", "search", "products", "1,0,0", "--k", "2", "--include-vectors")
	if !regexp.MustCompile(`(?s)^ID +DISTANCE +VECTOR\nshoe-red +0\.0000 +1,0,0\nshoe-blue +0\.1414 +0\.9,0\.1,0\n$`).MatchString(out) {
		t.Fatalf("search =\n%s", out)
	}
	var sr struct{ Matches []struct{ ID string } }
	if err := json.Unmarshal([]byte(c.ok("vector", "search", "products", "0,0,1", "--k", "1", "--json")), &sr); err != nil || len(sr.Matches) != 1 || sr.Matches[0].ID != "hat" {
		t.Fatalf("search --json = %+v, %v", sr, err)
	}
	if got := c.ok("vector", "get", "products", "hat"); got != "0,0,1\n" {
		t.Fatalf("get = %q", got)
	}
	if got := c.ok("vector", "del", "products", "hat"); got != "deleted\n" {
		t.Fatalf("del = %q", got)
	}
	c.fails(exitNotFound, `vector "hat" not found`, "vector", "get", "products", "hat")
	if got := c.ok("vector", "drop", "products"); got != "dropped\n" {
		t.Fatalf("drop = %q", got)
	}
	c.fails(exitNotFound, `no vector index "products": create it with 'norikv vector create products --dims N'`, "vector", "search", "products", "1,0,0")
	c.fails(exitNotFound, `no vector index "products": create it with 'norikv vector create products --dims N'`, "vector", "insert", "products", "a", "1,0,0")
	// Other vector errors name the namespace, not the RPC.
	c.ok("vector", "create", "products", "--dims", "3")
	r := c.run("vector", "insert", "products", "a", "1,0")
	if r.status != exitError || strings.Contains(r.stderr, "VectorInsert") || !strings.Contains(r.stderr, `norikv vector: namespace "products" invalid_argument: vector: has 2 dimensions, the index has 3`) {
		t.Fatalf("insert of the wrong size: status %d stderr %q", r.status, r.stderr)
	}
	c.ok("vector", "drop", "products")
	if got := c.ok("vector", "drop", "products"); got != "no such index (nothing dropped)\n" {
		t.Fatalf("second drop = %q", got)
	}
}

func TestConformanceCommand(t *testing.T) {
	c, _ := newCLI(t)
	// Against a running cluster: a few cases over two transports keep
	// this quick under -race; the full matrix is conformance's own test.
	out := c.ok("conformance", "--cases", "versions,cas_put", "--transports", "grpc/pb/h2,conn/json/h1")
	if !regexp.MustCompile(`(?m)^versions +pass +pass *$`).MatchString(out) || !strings.Contains(out, "4 pass, 0 fail, 0 skip") {
		t.Fatalf("conformance =\n%s", out)
	}
	// Without --target it judges an embedded cluster of its own.
	var stdout, stderr syncBuffer
	st := run(context.Background(), []string{"conformance", "--cases", "delete", "--transports", "web/pb/h1", "--json"}, IO{&stdout, &stderr})
	var rep struct {
		Results []struct{ Case, Status string }
	}
	if st != 0 || json.Unmarshal([]byte(stdout.String()), &rep) != nil || len(rep.Results) != 1 || rep.Results[0].Status != "pass" {
		t.Fatalf("embedded conformance: status %d stdout %q stderr %q", st, stdout.String(), stderr.String())
	}
	dead := &cli{t: t, target: "127.0.0.1:1"}
	dead.fails(exitError, "127.0.0.1:1", "conformance", "--cases", "versions")
}

// Every command has --help with examples, printed to stdout, exit 0.
func TestHelpEveryCommand(t *testing.T) {
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	for _, v := range vectorVerbs {
		names = append(names, "vector "+v.name)
	}
	names = append(names, "cluster transfer")
	for _, n := range names {
		var stdout, stderr syncBuffer
		args := append(strings.Fields(n), "--help")
		if st := run(context.Background(), args, IO{&stdout, &stderr}); st != 0 || stderr.String() != "" {
			t.Errorf("%v: status %d stderr %q", args, st, stderr.String())
		}
		if !strings.Contains(stdout.String(), "Usage: norikv "+n) || !strings.Contains(stdout.String(), "Examples:\n  norikv ") {
			t.Errorf("%v: help lacks usage or examples:\n%s", args, stdout.String())
		}
		if strings.Contains(stdout.String(), "(default -1)") {
			t.Errorf("%v: help shows a meaningless default -1:\n%s", args, stdout.String())
		}
		// A flag's help must not contradict its default.
		if m := regexp.MustCompile(`(?m)^  -shards.*\n.*$`).FindString(stdout.String()); strings.Contains(m, "learnt") && strings.Contains(m, "(default ") {
			t.Errorf("%v: --shards help says both learnt and a default: %q", args, m)
		}
	}
}

// --ca trusts a private CA: with it the commands speak TLS to a TLS
// cluster; without it the certificate is refused.
func TestTLSWithCA(t *testing.T) {
	cert, _ := testcert.SelfSigned(t)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Certificate[0]}), 0o600); err != nil {
		t.Fatal(err)
	}
	c, _ := newCLI(t, norikvtest.WithTLS(&tls.Config{Certificates: []tls.Certificate{cert}}))
	c.ok("put", "k", "secure", "--ca", caFile)
	c.ok("cluster", "transfer", "--shard", "0", "--to", "n2", "--ca", caFile)
	c.ok("cluster", "transfer", "--shard", "0", "--to", "n3", "--ca", caFile, "--protocol", "grpcweb")
	if got := c.ok("get", "k", "--ca", caFile, "--protocol", "connect"); got != "secure" {
		t.Fatalf("get over TLS = %q", got)
	}
	system := &cli{t: t, target: "https://" + strings.Split(c.target, ",")[0]} // system roots only
	// The refusal comes with the handshake; a short --timeout (2s: 500ms
	// for the seed) could run out first on a loaded machine.
	system.fails(exitError, "certificate", "get", "k")
	bad := filepath.Join(t.TempDir(), "bad.pem")
	if err := os.WriteFile(bad, []byte("not a pem"), 0o600); err != nil {
		t.Fatal(err)
	}
	c.fails(exitError, "no PEM certificate", "get", "k", "--ca", bad)
}
