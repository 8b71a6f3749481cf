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
	req, err := http.NewRequestWithContext(ctxT(t), method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
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
