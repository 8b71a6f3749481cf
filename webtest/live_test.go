package webtest

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/server"
	"github.com/norikv/norikv-go/web"
)

// js evaluates expr against the page's debug object as c (window.norikvConsole).
func js(expr string) string { return "(c => " + expr + ")(window.norikvConsole)" }

// clientRole is the Go client's view of a node's role.
func clientRole(cl *norikv.Client, id string) string {
	if v := cl.ClusterView(); v != nil {
		for _, n := range v.Nodes {
			if n.ID == id {
				return n.Role
			}
		}
	}
	return ""
}

// processCPU is this process's CPU time (user + system): the embedded
// cluster's, and the test's, which idles while it is measured.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestConsoleLive drives what the console shows while the cluster moves:
// the charts fed by the console stream, the load generator, a slowed node,
// a node stopped and restarted from the page (grid, timeline and the Go
// client agree), the timeline's filter, pause and shard highlight, the
// Keys and Vectors screens before any call, the dark theme, and the
// server's CPU cost of one idle page.
func TestConsoleLive(t *testing.T) {
	tab := browser(t)
	c, cl := cluster(t, server.Config{UI: web.Handler(), Console: true, ConsoleControls: true, Shards: 256})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// A namespace the Vectors screen should open on.
	if _, err := cl.VectorCreateIndex(ctx, "docs", 4, norikv.DistanceCosine, norikv.IndexBruteForce); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	run(t, tab, "open console", chromedp.Navigate("http://"+c.Addrs()[0]+"/ui/#cluster"))
	waitJS(t, tab, 10*time.Second, "first view", js("c.views > 0"))
	t.Logf("first render: first contentful paint %.0f ms, script running at %.0f ms, grid drawn from the stream's first message at %.0f ms after navigation (%v wall)",
		eval[float64](t, tab, "(performance.getEntriesByName('first-contentful-paint')[0] || {startTime: 0}).startTime"),
		eval[float64](t, tab, js("c.scriptMs")), eval[float64](t, tab, js("c.firstViewMs")), time.Since(start).Round(time.Millisecond))
	if s := eval[string](t, tab, js("c.stream")); s != "console" {
		t.Fatalf("the page streams with %q, want the console stream", s)
	}
	if st := eval[string](t, tab, "document.getElementById('stream').dataset.state"); st != "live" {
		t.Fatalf("header stream state %q, want live", st)
	}
	if got := text(t, tab, "stats"); got != "Connect · no calls from this page yet" {
		t.Fatalf("header before any call: %q", got)
	}

	// Charts receive points (one a second): the first sample has gauges,
	// rates start with the second.
	waitJS(t, tab, 10*time.Second, "charts get points", js("c.samples >= 3 && c.live.charts.ops.points >= 2 && c.live.charts.keys.points >= 3"))
	idleOps := eval[float64](t, tab, js("c.live.charts.ops.last('total')"))

	// The load button makes ops/s rise (from 0: the page's stream is not
	// counted). The generator is paced to 500 ops/s; a loaded machine
	// gets less, so the bar is low.
	run(t, tab, "start load", chromedp.Click(chromedp.ID("load-go")))
	waitJS(t, tab, 15*time.Second, "ops/s rise under load", js("c.live.charts.ops.last('total') > 20 && c.live.charts.keys.last('keys') > 0"))
	t.Logf("ops/s: idle %.1f, with the load generator %.0f", idleOps, eval[float64](t, tab, js("c.live.charts.ops.last('total')")))
	// Each node's calls by RPC and code, in its row's tooltip.
	waitJS(t, tab, 5*time.Second, "n1's calls by RPC and code",
		`/Kv\/(Put|Get) ok: /.test(document.querySelector('#nodes [data-node=n1] .figs').title)`)

	// A slowed node shows in its latency chart and the cluster's p99.
	slow(t, tab, "n2", 200)
	waitJS(t, tab, 15*time.Second, "n2's p99 shows the delay",
		js("c.live.nodes.get('n2').lat.last('p99') >= 150 && c.live.charts.lat.last('p99') >= 150"))
	t.Logf("p99 with n2 slowed by 200 ms: n2 %.0f ms, cluster %.0f ms, n1 %.1f ms",
		eval[float64](t, tab, js("c.live.nodes.get('n2').lat.last('p99')")),
		eval[float64](t, tab, js("c.live.charts.lat.last('p99')")),
		eval[float64](t, tab, js("c.live.nodes.get('n1').lat.last('p99')")))
	screenshot(t, tab, "live-slow-node")
	slow(t, tab, "n2", 0)

	// Stop n3 from the page: the grid, the node list, the timeline and
	// the Go client all see it down.
	stopped := time.Now()
	run(t, tab, "stop n3", chromedp.Click(chromedp.CSS("#nodes [data-node=n3] [data-act=stop]")))
	waitJS(t, tab, 5*time.Second, "grid and nodes show n3 down",
		`document.querySelector('#nodes [data-node=n3]').classList.contains('down') && `+
			`![...document.querySelectorAll('#grid div')].some(d => d.dataset.leader === 'n3')`)
	waitJS(t, tab, 5*time.Second, "timeline shows n3 down",
		`[...document.querySelectorAll('#events li')].some(li => li.textContent.includes('n3 down'))`)
	pageSaw := time.Since(stopped)
	for clientRole(cl, "n3") != "down" {
		if time.Since(stopped) > 5*time.Second {
			t.Fatalf("the Go client sees n3 as %q 5 s after the page stopped it", clientRole(cl, "n3"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("n3 stopped from the page: page showed it after %v, Go client after %v", pageSaw.Round(time.Millisecond), time.Since(stopped).Round(time.Millisecond))
	screenshot(t, tab, "live-node-down")

	// Timeline: filter by node, then by shard; clicking a shard event
	// highlights its shards on the grid.
	setValue(t, tab, "ev-filter", "n3")
	eval[bool](t, tab, "document.getElementById('ev-filter').dispatchEvent(new Event('input'))")
	if bad := eval[int](t, tab, `[...document.querySelectorAll('#events li')].filter(li => !li.textContent.includes('n3')).length`); bad != 0 {
		t.Fatalf("filter n3 shows %d events that do not name n3", bad)
	}
	moved := eval[int](t, tab, `Number(document.querySelector('#events li[data-shards]').dataset.shards.split(',')[0])`)
	setValue(t, tab, "ev-filter", strconv.Itoa(moved))
	eval[bool](t, tab, "document.getElementById('ev-filter').dispatchEvent(new Event('input'))")
	if n := eval[int](t, tab, `document.querySelectorAll('#events li').length`); n == 0 {
		t.Fatalf("filter by shard %d shows nothing", moved)
	}
	run(t, tab, "click a shard event", chromedp.Click(chromedp.CSS("#events li[data-shards]")))
	if hl := eval[bool](t, tab, fmt.Sprintf(`document.querySelector('#grid div[data-shard="%d"]').classList.contains('hl')`, moved)); !hl {
		t.Fatalf("clicking an event of shard %d did not highlight it on the grid", moved)
	}
	setValue(t, tab, "ev-filter", "")
	eval[bool](t, tab, "document.getElementById('ev-filter').dispatchEvent(new Event('input'))")

	// Pause holds new events back; resume shows them.
	run(t, tab, "pause", chromedp.Click(chromedp.ID("ev-pause")))
	before := eval[int](t, tab, `document.querySelectorAll('#events li').length`)
	shard := uint32(moved)
	target := ""
	for _, r := range c.View().Shards[shard].Replicas {
		if !r.Leader && r.NodeId != "n3" {
			target = r.NodeId
		}
	}
	if err := c.TransferLeader(shard, target); err != nil {
		t.Fatal(err)
	}
	waitJS(t, tab, 5*time.Second, "pause counts the held event", `document.getElementById('ev-pause').textContent.includes('1 new')`)
	if n := eval[int](t, tab, `document.querySelectorAll('#events li').length`); n != before {
		t.Fatalf("paused timeline went from %d to %d events", before, n)
	}
	run(t, tab, "resume", chromedp.Click(chromedp.ID("ev-pause")))
	want := fmt.Sprintf("shard %d leader", moved)
	if first := eval[string](t, tab, `document.querySelector('#events li').textContent`); !strings.Contains(first, want) {
		t.Fatalf("after resume the newest event is %q, want it to say %q", first, want)
	}

	// Restart n3 from the page.
	run(t, tab, "restart n3", chromedp.Click(chromedp.CSS("#nodes [data-node=n3] [data-act=restart]")))
	waitJS(t, tab, 5*time.Second, "timeline shows n3 up",
		`[...document.querySelectorAll('#events li')].some(li => li.textContent.includes('n3 up'))`)
	run(t, tab, "stop load", chromedp.Click(chromedp.ID("load-go")))
	waitJS(t, tab, 5*time.Second, "load stopped", `document.getElementById('load-go').dataset.running === 'false'`)
	// The button follows the stream, which can show the load stopped
	// before the stop call's own answer is back and counted.
	waitJS(t, tab, 5*time.Second, "stop load answered", `document.getElementById('ctl-out').textContent.includes('stop load: done')`)
	if n := eval[int](t, tab, js("c.router.stats.count")); n < 6 {
		t.Fatalf("the page counted %d calls; it made at least 6 controls", n)
	}

	// Idle cost: one page open, no load. The stream samples once a
	// second; the server's CPU over the window is what it costs.
	measureIdleCPU(t)

	// Keys says something before the first call, and remembers keys
	// written from this page across a reload.
	switchTab(t, tab, "keys")
	if !eval[bool](t, tab, `!document.getElementById('k-hint').hidden && document.getElementById('k-result').hidden`) {
		t.Fatal("Keys before any call: want the hint, not the empty result labels")
	}
	if code, msg := submit(t, tab, map[string]string{"k-key": "recent-1", "k-value": "v"}, "k-put", "k-out"); code != "OK" {
		t.Fatalf("put: %s %s", code, msg)
	}
	run(t, tab, "reload on keys", chromedp.Navigate("http://"+c.Addrs()[0]+"/ui/?again#keys"))
	waitJS(t, tab, 10*time.Second, "recent keys after reload",
		`[...document.querySelectorAll('#k-recent li')].some(li => li.textContent === 'recent-1')`)
	screenshot(t, tab, "keys-before-call")

	// Vectors opens on an existing namespace.
	run(t, tab, "open vectors", chromedp.Navigate("http://"+c.Addrs()[0]+"/ui/?v#vectors"))
	waitJS(t, tab, 10*time.Second, "vectors opens on docs", `document.getElementById('v-ns').value === 'docs'`)
	if dims := eval[string](t, tab, `document.getElementById('v-dims').value`); dims != "4" {
		t.Fatalf("vectors screen opened on docs with %s dimensions, want 4", dims)
	}
	screenshot(t, tab, "vectors-namespaces")

	// Dark theme follows the system setting.
	run(t, tab, "dark", emulateDark(true), chromedp.Navigate("http://"+c.Addrs()[0]+"/ui/?dark#cluster"))
	waitJS(t, tab, 10*time.Second, "samples in dark mode", js("c.samples >= 2"))
	bg := eval[string](t, tab, "getComputedStyle(document.body).backgroundColor")
	if lum := luminance(bg); lum > 0.3 {
		t.Fatalf("dark system setting: body background %s (luminance %.2f), want dark", bg, lum)
	}
	screenshot(t, tab, "live-dark")
	run(t, tab, "light", emulateDark(false))
	if lum := luminance(eval[string](t, tab, "getComputedStyle(document.body).backgroundColor")); lum < 0.7 {
		t.Fatalf("light system setting: luminance %.2f, want light", lum)
	}
}

// measureIdleCPU measures the process's CPU use with the page open and
// idle: NORIKV_CONSOLE_CPU_SECONDS long (3 s by default, for CI; a longer
// window for a measurement worth quoting), failing above 5 % of a core
// (the target is 2 %; the short window leaves room for a GC).
func measureIdleCPU(t *testing.T) {
	t.Helper()
	window := 3 * time.Second
	if s := os.Getenv("NORIKV_CONSOLE_CPU_SECONDS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("NORIKV_CONSOLE_CPU_SECONDS=%q: %v", s, err)
		}
		window = time.Duration(n) * time.Second
	}
	time.Sleep(time.Second) // the load's last calls drain
	cpu0, t0 := processCPU(), time.Now()
	time.Sleep(window)
	share := float64(processCPU()-cpu0) / float64(time.Since(t0))
	t.Logf("server CPU with one console page open, idle: %.2f %% of a core over %v", share*100, window)
	if share > 0.05 {
		t.Errorf("idle console costs %.1f %% of a core, want at most 2 %%", share*100)
	}
}

// luminance of a CSS rgb() colour, 0 (black) to 1 (white).
func luminance(css string) float64 {
	var r, g, b float64
	if _, err := fmt.Sscanf(strings.ReplaceAll(css, " ", ""), "rgb(%g,%g,%g)", &r, &g, &b); err != nil {
		return -1
	}
	return (0.2126*r + 0.7152*g + 0.0722*b) / 255
}

// emulateDark sets the page's prefers-color-scheme.
func emulateDark(dark bool) chromedp.Action[chromedp.Void] {
	scheme := "light"
	if dark {
		scheme = "dark"
	}
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// slow picks a delay for node in its row's select, as a user would.
func slow(t *testing.T, tab context.Context, node string, ms int) {
	t.Helper()
	eval[bool](t, tab, fmt.Sprintf(
		"(s => (s.value = '%d', s.dispatchEvent(new Event('change')), s.value === '%d'))(document.querySelector('#nodes [data-node=%s] select'))", ms, ms, node))
}
