package webtest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/server"
	"github.com/norikv/norikv-go/web"
)

// chromiumPath finds the browser: NORIKV_CHROMIUM, else the Debian
// package's binary or a Chrome on PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("NORIKV_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("webtest: no Chromium found: install it (apt-get install -y chromium) or set NORIKV_CHROMIUM to a Chrome binary; " +
		"this module tests the console in a real browser and cannot run without one")
	return ""
}

// artifactDir is where screenshots go: NORIKV_ARTIFACT_DIR, else
// webtest/artifacts (ignored by git).
func artifactDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("NORIKV_ARTIFACT_DIR")
	if dir == "" {
		dir = "artifacts"
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// browser starts headless Chromium and returns a tab context; the browser
// is killed when the test ends.
func browser(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// Start the browser now so a broken install fails here, clearly.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("webtest: starting Chromium: %v", err)
	}
	return ctx
}

// run runs chromedp actions with a deadline, failing the test on error.
func run(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// eval evaluates a JavaScript expression to a T.
func eval[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// waitJS polls a boolean JavaScript expression until it holds or the
// timeout passes, and returns how long that took.
func waitJS(t *testing.T, ctx context.Context, timeout time.Duration, what, expr string) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr)); err == nil && ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("%s: not within %v (%s)", what, timeout, expr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// text returns an element's textContent.
func text(t *testing.T, ctx context.Context, id string) string {
	t.Helper()
	return eval[string](t, ctx, fmt.Sprintf("document.getElementById(%q).textContent", id))
}

// submit fills inputs (id → value) and clicks a button, then waits for
// the outcome element to leave its pending state and returns its code
// (data-code: "OK" or the error's code) and text.
func submit(t *testing.T, ctx context.Context, fields map[string]string, button, outcome string) (code, msg string) {
	t.Helper()
	for id, v := range fields {
		setValue(t, ctx, id, v)
	}
	run(t, ctx, "click "+button, chromedp.Click(chromedp.ID(button)))
	waitJS(t, ctx, 5*time.Second, button+" answered", fmt.Sprintf("document.getElementById(%q).dataset.code !== ''", outcome))
	return eval[string](t, ctx, fmt.Sprintf("document.getElementById(%q).dataset.code", outcome)), text(t, ctx, outcome)
}

// setValue sets a form field's value as typing would leave it.
func setValue(t *testing.T, ctx context.Context, id, v string) {
	t.Helper()
	js := fmt.Sprintf("(el => (el.value = %s, el.value))(document.getElementById(%q))", strconv.Quote(v), id)
	if got := eval[string](t, ctx, js); got != v {
		t.Fatalf("setting #%s to %q left %q", id, v, got)
	}
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	p := filepath.Join(artifactDir(t), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", p, len(png))
}

// wire records the content type of every RPC the page sends, so a test
// can tell which protocol was really on the wire (not just what the page
// says it chose).
type wire struct {
	mu    sync.Mutex
	types map[string]int // content-type → requests
}

func record(t *testing.T, tab context.Context) *wire {
	t.Helper()
	w := &wire{types: map[string]int{}}
	err := chromedp.Listen(tab, func(ev any) {
		e, ok := ev.(*network.EventRequestWillBeSent)
		if !ok || e.Request.Method != http.MethodPost || !strings.Contains(e.Request.URL, "/norikv.v1.") {
			return
		}
		ct := ""
		for k, v := range e.Request.Headers {
			if strings.EqualFold(k, "content-type") {
				ct, _ = v.(string)
			}
		}
		w.mu.Lock()
		w.types[ct]++
		w.mu.Unlock()
	})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *wire) reset() {
	w.mu.Lock()
	clear(w.types)
	w.mu.Unlock()
}

// check fails unless every recorded RPC used one of the content types
// that start with a prefix in want.
func (w *wire) check(t *testing.T, proto string, want ...string) {
	t.Helper()
	w.mu.Lock()
	defer w.mu.Unlock()
	n := 0
	for ct, count := range w.types {
		ok := false
		for _, p := range want {
			ok = ok || strings.HasPrefix(ct, p)
		}
		if !ok {
			t.Errorf("%s: %d RPCs went out as %q", proto, count, ct)
		}
		n += count
	}
	if n == 0 {
		t.Errorf("%s: no RPC seen on the wire", proto)
	}
	t.Logf("%s on the wire: %v", proto, w.types)
}

func versionText(v norikv.Version) string { return fmt.Sprintf("%d:%d", v.Term, v.Index) }

// clientLeaders is the Go client's view of every shard's leader.
func clientLeaders(cl *norikv.Client) []string {
	v := cl.ClusterView()
	if v == nil {
		return nil
	}
	out := make([]string, len(v.Shards))
	for _, s := range v.Shards {
		for _, r := range s.Replicas {
			if r.Leader && int(s.ID) < len(out) {
				out[s.ID] = r.NodeID
			}
		}
	}
	return out
}

// cluster starts cfg's cluster and a connected Go client of it, both
// closed when the test ends.
func cluster(t *testing.T, cfg server.Config) (*server.Cluster, *norikv.Client) {
	t.Helper()
	c, err := server.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	cl, err := norikv.New(norikv.Config{Nodes: c.Addrs(), TotalShards: c.Shards()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := cl.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	return c, cl
}

func TestConsole(t *testing.T) {
	tab := browser(t) // first: without Chromium, fail before starting anything
	// With the console's service: its stream carries the views, in
	// either protocol (the wire check below covers it too).
	c, cl := cluster(t, server.Config{UI: web.Handler(), Console: true})
	w := record(t, tab)

	for _, proto := range []struct {
		name         string
		contentTypes []string
	}{
		{"connect", []string{"application/json", "application/connect+json"}},
		{"grpcweb", []string{"application/grpc-web+proto"}},
	} {
		t.Run(proto.name, func(t *testing.T) {
			testConsole(t, tab, c, cl, w, proto.name)
			w.check(t, proto.name, proto.contentTypes...)
		})
	}
}

// switchTab switches the page to a screen by its nav link, as a user would.
func switchTab(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	run(t, ctx, name+" tab", chromedp.Click(chromedp.CSS("nav a[data-tab="+name+"]")), chromedp.WaitVisible(chromedp.ID(name)))
}

func testConsole(t *testing.T, tab context.Context, c *server.Cluster, cl *norikv.Client, w *wire, proto string) {
	// A fresh load per protocol (the query string makes it a new page), so
	// the render timing and the request count start from zero.
	url := "http://" + c.Addrs()[0] + "/ui/?run=" + proto
	start := time.Now()
	run(t, tab, "open "+url, chromedp.Navigate(url+"#cluster"))
	waitJS(t, tab, 10*time.Second, "first cluster view drawn", "window.norikvConsole && window.norikvConsole.views > 0")
	firstViewMs := eval[float64](t, tab, "window.norikvConsole.firstViewMs")
	fcpMs := eval[float64](t, tab, "(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: 0}).startTime")
	t.Logf("time to first render: first contentful paint %.0f ms, shard grid drawn from the first view %.0f ms after navigation (%v wall, load included)",
		fcpMs, firstViewMs, time.Since(start).Round(time.Millisecond))

	// The protocol switch restarts the watch over the chosen protocol;
	// from here on every RPC must use it.
	w.reset()
	run(t, tab, "choose "+proto, chromedp.Click(chromedp.CSS("input[name=protocol][value="+proto+"]")))
	waitJS(t, tab, 5*time.Second, "watch restarted", "window.norikvConsole.views > 1 || window.norikvConsole.router.protocol === 'connect'")
	if checked := eval[string](t, tab, "window.norikvConsole.router.protocol"); checked != proto {
		t.Fatalf("protocol switch: router speaks %q, want %q", checked, proto)
	}
	waitJS(t, tab, 5*time.Second, "the console stream's samples", "window.norikvConsole.samples > 0")
	if s := eval[string](t, tab, "window.norikvConsole.stream"); s != "console" {
		t.Fatalf("the page streams with %q, want the console's stream", s)
	}

	// Grid: the same leader per shard as the Go client's view.
	waitJS(t, tab, 5*time.Second, "grid has every shard", fmt.Sprintf("document.querySelectorAll('#grid div').length === %d", c.Shards()))
	grid := eval[[]string](t, tab, "[...document.querySelectorAll('#grid div')].map(d => d.dataset.leader)")
	if want := clientLeaders(cl); strings.Join(grid, ",") != strings.Join(want, ",") {
		t.Fatalf("grid leaders differ from the Go client's view:\n page %v\n  go  %v", grid[:8], want[:8])
	}

	// Hover names the replicas.
	key := "web-" + proto
	shard := c.ShardOf([]byte(key))
	eval[bool](t, tab, fmt.Sprintf(
		"document.querySelector('#grid div[data-shard=\"%d\"]').dispatchEvent(new MouseEvent('mouseover', {bubbles: true}))", shard))
	info := text(t, tab, "shard-info")
	view := c.View()
	for _, r := range view.Shards[shard].Replicas {
		if !strings.Contains(info, r.NodeId) {
			t.Errorf("hover on shard %d says %q, which does not name replica %s", shard, info, r.NodeId)
		}
	}

	// Move the shard's leadership in the page: the Go client sees it and
	// the page redraws it, each within 2 s.
	old := c.Leader(shard)
	target := ""
	for _, r := range view.Shards[shard].Replicas {
		if r.NodeId != old {
			target = r.NodeId
			break
		}
	}
	setValue(t, tab, "xfer-node", target)
	moved := time.Now()
	if code, msg := submit(t, tab, map[string]string{"xfer-shard": fmt.Sprint(shard)}, "xfer-go", "xfer-out"); code != "OK" {
		t.Fatalf("transfer shard %d to %s: %s %s", shard, target, code, msg)
	}
	for clientLeaders(cl)[shard] != target {
		if time.Since(moved) > 2*time.Second {
			t.Fatalf("the Go client still sees shard %d led by %s 2 s after the page moved it to %s", shard, clientLeaders(cl)[shard], target)
		}
		time.Sleep(10 * time.Millisecond)
	}
	goSaw := time.Since(moved)
	waitJS(t, tab, 2*time.Second-time.Since(moved), "grid redraws the moved leader",
		fmt.Sprintf("document.querySelector('#grid div[data-shard=\"%d\"]').dataset.leader === %q", shard, target))
	t.Logf("transfer of shard %d %s→%s: Go client saw it after %v, page redrew it after %v", shard, old, target, goSaw.Round(time.Millisecond), time.Since(moved).Round(time.Millisecond))
	screenshot(t, tab, "cluster-"+proto)

	// Keys: put in the page, read by the Go SDK, and the other way round.
	switchTab(t, tab, "keys")
	if code, msg := submit(t, tab, map[string]string{"k-key": key, "k-value": "from-page", "k-ttl": "", "k-ifmatch": ""}, "k-put", "k-out"); code != "OK" {
		t.Fatalf("put in the page: %s %s", code, msg)
	}
	pageVersion := text(t, tab, "k-version")
	if got, want := text(t, tab, "k-shard"), fmt.Sprint(c.ShardOf([]byte(key))); got != want {
		t.Errorf("page routes %q to shard %s, the server to %s", key, got, want)
	}
	got, err := cl.Get(context.Background(), key)
	if err != nil || string(got.Value) != "from-page" || versionText(got.Version) != pageVersion {
		t.Fatalf("Go SDK read of the page's put: %v %q at %v, want \"from-page\" at %s", err, got.Value, got, pageVersion)
	}
	v2, err := cl.Put(context.Background(), key, []byte("from-go"))
	if err != nil {
		t.Fatal(err)
	}
	if code, msg := submit(t, tab, nil, "k-get", "k-out"); code != "OK" || text(t, tab, "k-value-out") != "from-go" || text(t, tab, "k-version") != versionText(v2) {
		t.Fatalf("page read of the Go SDK's put: %s %s, value %q version %q; want from-go at %s",
			code, msg, text(t, tab, "k-value-out"), text(t, tab, "k-version"), versionText(v2))
	}
	// A CAS with the current version wins; one with the first (now
	// stale) version shows its typed error and writes nothing.
	if code, msg := submit(t, tab, map[string]string{"k-value": "cas-won", "k-ifmatch": versionText(v2)}, "k-put", "k-out"); code != "OK" {
		t.Fatalf("put if-match %s (current): %s %q", versionText(v2), code, msg)
	}
	code, msg := submit(t, tab, map[string]string{"k-value": "lost", "k-ifmatch": pageVersion}, "k-put", "k-out")
	if code != "FAILED_PRECONDITION" || !strings.Contains(msg, "CAS mismatch") {
		t.Fatalf("stale if-match: %s %q, want FAILED_PRECONDITION and \"CAS mismatch\"", code, msg)
	}
	if got, _ := cl.Get(context.Background(), key); string(got.Value) != "cas-won" {
		t.Fatalf("after a won and a lost CAS the value is %q, want cas-won", got.Value)
	}
	screenshot(t, tab, "keys-"+proto)

	// NOT_LEADER followed once: make the page's view name a follower as
	// the leader of the key's shard, as a view a moment stale would; the
	// Get is refused there and answered by the leader the reply names.
	shardK := c.ShardOf([]byte(key))
	follower := ""
	for _, r := range c.View().Shards[shardK].Replicas {
		if !r.Leader {
			follower = r.NodeId
		}
	}
	eval[bool](t, tab, fmt.Sprintf(
		"(rs => { for (const r of rs) r.leader = r.nodeId === %q; return true })(window.norikvConsole.router.view.shards[%d].replicas)", follower, shardK))
	if code, msg := submit(t, tab, map[string]string{"k-key": key, "k-ifmatch": ""}, "k-get", "k-out"); code != "OK" || text(t, tab, "k-value-out") != "cas-won" {
		t.Fatalf("get through a stale view: %s %q", code, msg)
	}
	if stats := text(t, tab, "stats"); !strings.Contains(stats, "(after NOT_LEADER)") || !strings.Contains(stats, "on "+c.Leader(shardK)) {
		t.Fatalf("stats %q: want the Get answered by %s after NOT_LEADER from %s", stats, c.Leader(shardK), follower)
	}
	if code, msg := submit(t, tab, map[string]string{"k-key": key + "-missing", "k-ifmatch": ""}, "k-get", "k-out"); code != "NOT_FOUND" {
		t.Fatalf("get of a missing key: %s %q, want NOT_FOUND", code, msg)
	}
	// A TTL set in the page expires the key for the Go SDK.
	ttlKey := key + "-ttl"
	if code, msg := submit(t, tab, map[string]string{"k-key": ttlKey, "k-value": "brief", "k-ttl": "1000"}, "k-put", "k-out"); code != "OK" {
		t.Fatalf("put with TTL: %s %q", code, msg)
	}
	setValue(t, tab, "k-ttl", "")
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, err := cl.Get(context.Background(), ttlKey)
		if errors.Is(err, norikv.ErrKeyNotFound) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("key put with a 1 s TTL in the page: still there after 5 s (%v)", err)
		}
	}

	// Delete in the page; the Go SDK sees the key gone.
	if code, msg := submit(t, tab, map[string]string{"k-key": key + "-del", "k-value": "x"}, "k-put", "k-out"); code != "OK" {
		t.Fatalf("put: %s %s", code, msg)
	}
	if code, msg := submit(t, tab, nil, "k-del", "k-out"); code != "OK" || msg != "deleted" {
		t.Fatalf("delete in the page: %s %q", code, msg)
	}
	if _, err := cl.Get(context.Background(), key+"-del"); !errors.Is(err, norikv.ErrKeyNotFound) {
		t.Fatalf("Go SDK after the page's delete: %v, want ErrKeyNotFound", err)
	}
	stats := text(t, tab, "stats")
	wantProto := map[string]string{"connect": "Connect", "grpcweb": "gRPC-Web"}[proto]
	if !strings.HasPrefix(stats, wantProto+" · ") || !strings.Contains(stats, " ms") {
		t.Fatalf("stats line %q: want the protocol, request count and latency", stats)
	}
	t.Logf("stats after the keys screen: %s", stats)

	// Vectors: create, insert three, search: the nearest comes first.
	switchTab(t, tab, "vectors")
	ns := "webns-" + proto
	if code, msg := submit(t, tab, map[string]string{"v-ns": ns, "v-dims": "3"}, "v-create", "v-out"); code != "OK" {
		t.Fatalf("create index: %s %s", code, msg)
	}
	for id, vec := range map[string]string{"east": "1, 0, 0", "north": "0, 1, 0", "up": "0, 0, 1"} {
		if code, msg := submit(t, tab, map[string]string{"v-id": id, "v-vec": vec}, "v-insert", "v-out"); code != "OK" {
			t.Fatalf("insert %s: %s %s", id, code, msg)
		}
	}
	if code, msg := submit(t, tab, map[string]string{"v-query": "0.1, 0.9, 0.05", "v-k": "2"}, "v-search", "v-out"); code != "OK" {
		t.Fatalf("search: %s %s", code, msg)
	}
	rows := eval[[][]string](t, tab, "[...document.querySelectorAll('#v-results tbody tr')].map(tr => [...tr.cells].map(td => td.textContent))")
	if len(rows) != 2 || rows[0][1] != "north" {
		t.Fatalf("search results %v: want 2 rows, north first", rows)
	}
	res, err := cl.VectorSearch(context.Background(), ns, []float32{0.1, 0.9, 0.05}, 1)
	if err != nil || len(res.Matches) != 1 || res.Matches[0].ID != "north" {
		t.Fatalf("Go SDK search of the page's index: %v %+v", err, res)
	}
	screenshot(t, tab, "vectors-"+proto)
}

// TestConsoleToken: against a cluster started with a token, the page is
// refused until the token is typed in, then works (stream and calls).
func TestConsoleToken(t *testing.T) {
	tab := browser(t)
	const token = "s3cret"
	c, err := server.Start(server.Config{UI: web.Handler(), Token: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	run(t, tab, "open console", chromedp.Navigate("http://"+c.Addrs()[0]+"/ui/#keys"))
	waitJS(t, tab, 10*time.Second, "watch refused without the token",
		"document.getElementById('watch').textContent.toLowerCase().includes('unauthenticated')")
	if n := eval[int](t, tab, "window.norikvConsole.views"); n != 0 {
		t.Fatalf("the page drew %d views without the token", n)
	}
	setValue(t, tab, "token", token)
	eval[bool](t, tab, "document.getElementById('token').dispatchEvent(new Event('change'))")
	waitJS(t, tab, 10*time.Second, "view with the token", "window.norikvConsole.views > 0")
	// This cluster has no console service: the page falls back to
	// WatchCluster and says why the timeline stays empty.
	if s := eval[string](t, tab, "window.norikvConsole.stream"); s != "meta" {
		t.Fatalf("without the console service the page streams with %q, want meta (WatchCluster)", s)
	}
	if msg := text(t, tab, "ev-state"); !strings.Contains(msg, "no console service") {
		t.Fatalf("timeline without the console service says %q", msg)
	}
	if code, msg := submit(t, tab, map[string]string{"k-key": "tok", "k-value": "ok"}, "k-put", "k-out"); code != "OK" {
		t.Fatalf("put with the token: %s %q", code, msg)
	}
	cl, err := norikv.New(norikv.Config{Nodes: c.Addrs(), TotalShards: c.Shards(), BearerToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close() })
	if got, err := cl.Get(context.Background(), "tok"); err != nil || string(got.Value) != "ok" {
		t.Fatalf("Go SDK read of the page's put: %v %v", got, err)
	}
}
