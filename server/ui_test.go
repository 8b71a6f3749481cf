package server

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
)

// do sends one raw HTTP request to addr with the given headers.
func do(t *testing.T, method, addr, path, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	return rebound(t, method, addr, "", path, body, hdr)
}

func preflight(t *testing.T, addr, origin string) *http.Response {
	t.Helper()
	res, _ := do(t, http.MethodOptions, addr, "/norikv.v1.Kv/Get", "", map[string]string{
		"Origin":                         origin,
		"Access-Control-Request-Method":  "POST",
		"Access-Control-Request-Headers": "content-type,connect-protocol-version,x-grpc-web",
	})
	return res
}

func TestUIServedAndCORSForItsOwnOrigin(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "console at "+r.URL.Path) })
	c, _ := startTest(t, Config{UI: ui})
	addrs := c.Addrs()

	if res, body := do(t, http.MethodGet, addrs[1], "/ui/", "", nil); res.StatusCode != http.StatusOK || body != "console at /ui/" {
		t.Fatalf("GET /ui/ on n2: %d %q, want 200 from Config.UI", res.StatusCode, body)
	}

	// The page loaded from n1 calls n2: n1's origin, in either loopback
	// spelling, passes the preflight with connect's header lists.
	_, port1, _ := net.SplitHostPort(addrs[0])
	for _, origin := range []string{"http://" + addrs[0], "http://localhost:" + port1} {
		res := preflight(t, addrs[1], origin)
		if res.StatusCode != http.StatusNoContent || res.Header.Get("Access-Control-Allow-Origin") != origin {
			t.Fatalf("preflight from %s: %d, Allow-Origin %q; want 204 naming the origin", origin, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
		for _, h := range []string{"Connect-Protocol-Version", "X-Grpc-Web", "Authorization"} {
			if !strings.Contains(res.Header.Get("Access-Control-Allow-Headers"), h) {
				t.Errorf("preflight from %s: Allow-Headers %q lacks %s", origin, res.Header.Get("Access-Control-Allow-Headers"), h)
			}
		}
	}

	// A real call from the console's origin exposes the NOT_LEADER hints.
	res, body := do(t, http.MethodPost, addrs[1], "/norikv.v1.Kv/Get", `{"key":"aGVsbG8="}`, map[string]string{
		"Origin": "http://" + addrs[0], "Content-Type": "application/json",
	})
	if res.Header.Get("Access-Control-Allow-Origin") != "http://"+addrs[0] {
		t.Fatalf("POST from the console's origin: Allow-Origin %q (status %d, %s)", res.Header.Get("Access-Control-Allow-Origin"), res.StatusCode, body)
	}
	for _, h := range []string{"leader-hint", "leader-id", "Grpc-Status"} {
		if !strings.Contains(res.Header.Get("Access-Control-Expose-Headers"), h) {
			t.Errorf("Expose-Headers %q lacks %s", res.Header.Get("Access-Control-Expose-Headers"), h)
		}
	}
}

func TestCORSRefusesOtherOrigins(t *testing.T) {
	c, _ := startTest(t, Config{UI: http.NotFoundHandler(), CORSOrigins: []string{"HTTP://Dev.Example:5173/"}})
	addr := c.Addrs()[0]
	_, port, _ := net.SplitHostPort(addr)
	for _, origin := range []string{
		"http://evil.example",
		"http://evil.example:" + port, // a node's port on another host
		"https://" + addr,             // wrong scheme: the nodes are plaintext
		"http://127.0.0.1:1",          // not a node's port
		"null",
	} {
		if res := preflight(t, addr, origin); res.StatusCode != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("preflight from %s: %d, Allow-Origin %q; want 403 and none", origin, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
		}
		res, body := do(t, http.MethodPost, addr, "/norikv.v1.Kv/Put", `{"key":"aw==","value":"dg=="}`, map[string]string{
			"Origin": origin, "Content-Type": "application/json",
		})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "--cors-origin") {
			t.Errorf("Put from %s: %d %q; want 403 naming --cors-origin", origin, res.StatusCode, body)
		}
	}
	if res := preflight(t, addr, "http://dev.example:5173"); res.StatusCode != http.StatusNoContent {
		t.Errorf("preflight from the configured origin: %d, want 204", res.StatusCode)
	}
	// Clients that are not browsers send no Origin and are unaffected.
	if res, body := do(t, http.MethodPost, addr, "/norikv.v1.Kv/Get", `{"key":"aw=="}`, map[string]string{"Content-Type": "application/json"}); res.StatusCode == http.StatusForbidden || res.Header.Get("Vary") != "" {
		t.Errorf("Get without Origin: %d %s", res.StatusCode, body)
	}
}

func TestNoCORSWithoutUIOrOrigins(t *testing.T) {
	c, _ := startTest(t, Config{})
	addr := c.Addrs()[0]
	if res := preflight(t, addr, "http://"+addr); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("preflight with CORS off: Allow-Origin %q, want none", res.Header.Get("Access-Control-Allow-Origin"))
	}
	if res, _ := do(t, http.MethodGet, addr, "/ui/", "", nil); res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /ui/ with no UI: %d, want 404", res.StatusCode)
	}
}

// rebound sends a request as a browser does after DNS rebinding: to this
// node's address, but with the attacker's name in Host ("": addr).
func rebound(t *testing.T, method, addr, host, path, body string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := httpClient(t, false).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res, string(b)
}

// A page whose name an attacker rebinds to 127.0.0.1 reaches a node with
// its own name as Host and Origin: refused, with or without an Origin
// (a same-origin GET sends none, but a browser always sends Sec-Fetch-*).
// Loopback literals and localhost stay allowed.
func TestCORSRefusesDNSRebinding(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, UI: http.NotFoundHandler()})
	addr := c.Addrs()[0]
	_, port, _ := net.SplitHostPort(addr)
	evil := "rebind.attacker.test:" + port
	put := `{"key":"aw==","value":"dg=="}`
	res, body := rebound(t, http.MethodPost, addr, evil, "/norikv.v1.Kv/Put", put, map[string]string{
		"Origin": "http://" + evil, "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin", "Sec-Fetch-Mode": "cors"})
	if res.StatusCode != http.StatusForbidden || res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("Put with Origin and Host %s: %d, Allow-Origin %q (%s); want 403 and none", evil, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), body)
	}
	res, body = rebound(t, http.MethodGet, addr, evil, "/ui/", "", map[string]string{"Sec-Fetch-Site": "none", "Sec-Fetch-Mode": "navigate"})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("GET /ui/ with Host %s and no Origin: %d %q; want 403", evil, res.StatusCode, body)
	}
	if got := getKey(t, c, "k"); got.Version != nil {
		t.Fatalf("the rebound Put was applied: %v", got.Version)
	}
	for _, host := range []string{"localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port} {
		res, body := rebound(t, http.MethodPost, addr, host, "/norikv.v1.Kv/Get", `{"key":"aw=="}`, map[string]string{
			"Origin": "http://" + host, "Content-Type": "application/json", "Sec-Fetch-Site": "same-origin"})
		if res.StatusCode != http.StatusOK || res.Header.Get("Access-Control-Allow-Origin") != "http://"+host {
			t.Errorf("Get from the console at %s: %d, Allow-Origin %q (%s); want 200 naming it", host, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"), body)
		}
	}
	// Clients that are not browsers (no Origin, no Sec-Fetch-*) may use
	// any name.
	if res, body := rebound(t, http.MethodPost, addr, "db.internal:"+port, "/norikv.v1.Kv/Get", `{"key":"aw=="}`, map[string]string{"Content-Type": "application/json"}); res.StatusCode != http.StatusOK {
		t.Errorf("Get from a non-browser client by name: %d %s", res.StatusCode, body)
	}
}
