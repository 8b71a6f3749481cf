package server

import (
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	connectcors "connectrpc.com/cors"

	"github.com/norikv/norikv-go/internal/wire"
)

// uiPrefix is where Config.UI is mounted on every node.
const uiPrefix = "/ui/"

// corsMaxAge lets a browser cache a preflight for two hours, as connect's
// CORS guide suggests: the allowed lists never change while a node runs.
const corsMaxAge = "7200"

// corsLists are the CORS header values, built once: connect's lists of
// what Connect and gRPC-Web send and read, plus this server's own
// headers a browser client needs (the bearer token in, the NOT_LEADER
// hints out).
var corsLists = struct{ methods, allowHeaders, exposeHeaders string }{
	methods:      strings.Join(connectcors.AllowedMethods(), ", "),
	allowHeaders: strings.Join(append(connectcors.AllowedHeaders(), "Authorization"), ", "),
	exposeHeaders: strings.Join(append(connectcors.ExposedHeaders(),
		wire.HeaderLeaderHint, wire.HeaderLeaderAddr, wire.HeaderLeaderID,
		wire.HeaderLegacyLeader, wire.HeaderLegacyLeaderHint), ", "),
}

// browser adds what a browser client needs to a node's handler h: the
// console (Config.UI) under /ui/ on mux, and CORS when the console is on
// or Config.CORSOrigins names origins. With neither, h is returned as it
// is and the node answers no CORS at all.
func (n *node) browser(mux *http.ServeMux, h http.Handler) http.Handler {
	cfg := n.c.cfg
	if cfg.UI != nil {
		mux.Handle(uiPrefix, cfg.UI)
		mux.Handle(strings.TrimSuffix(uiPrefix, "/"), cfg.UI)
	}
	if cfg.UI == nil && len(cfg.CORSOrigins) == 0 {
		return h
	}
	allowed := normalizeOrigins(cfg.CORSOrigins)
	hosts := map[string]bool{strings.ToLower(cfg.Host): true}
	for o := range allowed {
		if u, err := url.Parse(o); err == nil && u.Hostname() != "" {
			hosts[u.Hostname()] = true
		}
	}
	return &corsHandler{c: n.c, next: h, allowed: allowed, hosts: hosts}
}

// corsHandler answers CORS for the allowed origins and refuses requests
// from any other origin outright: a browser would hide the response from
// the page anyway, but a refused request also cannot write, so a page on
// another site cannot drive a developer's local cluster.
type corsHandler struct {
	c       *Cluster
	next    http.Handler
	allowed map[string]bool // normalised Config.CORSOrigins; "*" is any
	hosts   map[string]bool // names browsers may call the nodes by (hostAllowed)
}

func (h *corsHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	origin := r.Header.Get("Origin")
	browser := origin != "" || r.Header.Get("Sec-Fetch-Site") != "" || r.Header.Get("Sec-Fetch-Mode") != ""
	if browser && !h.allowed["*"] && !h.hostAllowed(r.Host) {
		http.Error(w, "norikv: a browser called this node by the name "+strconv.Quote(r.Host)+
			", which it does not answer browsers under (a DNS rebinding page would): open the console at http://127.0.0.1:PORT or http://localhost:PORT, or allow the page's origin with --cors-origin", http.StatusForbidden)
		return
	}
	if origin == "" {
		// Not a browser's cross-origin request (or an old browser's
		// same-origin GET): nothing to answer or refuse.
		h.next.ServeHTTP(w, r)
		return
	}
	hdr := w.Header()
	hdr.Add("Vary", "Origin")
	if !h.originAllowed(origin, r.Host) {
		http.Error(w, "norikv: origin "+strconv.Quote(origin)+" is not allowed (add it with --cors-origin)", http.StatusForbidden)
		return
	}
	hdr.Set("Access-Control-Allow-Origin", origin)
	if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
		hdr.Add("Vary", "Access-Control-Request-Method")
		hdr.Add("Vary", "Access-Control-Request-Headers")
		hdr.Set("Access-Control-Allow-Methods", corsLists.methods)
		hdr.Set("Access-Control-Allow-Headers", corsLists.allowHeaders)
		hdr.Set("Access-Control-Max-Age", corsMaxAge)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	hdr.Set("Access-Control-Expose-Headers", corsLists.exposeHeaders)
	h.next.ServeHTTP(w, r)
}

// originAllowed reports whether a page at origin may call this node,
// which the browser reached as host (already checked by hostAllowed). A
// configured origin is allowed as is. With the console on, so is the
// console's own origin: any node of the cluster (the page is served by
// all of them and calls each shard's leader), named as the browser named
// this node, or by any loopback name when both are loopback (127.0.0.1
// and localhost are one machine).
func (h *corsHandler) originAllowed(origin, host string) bool {
	norm := normalizeOrigin(origin)
	if h.allowed["*"] || h.allowed[norm] {
		return true
	}
	if h.c.cfg.UI == nil {
		return false
	}
	u, err := url.Parse(norm)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "http"
	if h.c.cfg.TLSConfig != nil {
		scheme = "https"
	}
	if u.Scheme != scheme {
		return false
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	reqHost := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		reqHost = hh
	}
	if !sameHost(u.Hostname(), reqHost) {
		return false
	}
	vs := h.c.views.load()
	if vs == nil {
		return false
	}
	for _, nd := range vs.view.GetNodes() {
		if _, p, err := net.SplitHostPort(nd.GetAddr()); err == nil && p == port {
			return true
		}
	}
	return false
}

// hostAllowed reports whether a browser may call this node by host (the
// Host header). A DNS rebinding page reaches the node under the
// attacker's name, which it controls along with the page's origin: so a
// name must be one the operator gave (Config.Host, a configured origin's
// host) or "localhost", which browsers resolve to loopback themselves.
// An IP literal cannot be rebound.
func (h *corsHandler) hostAllowed(host string) bool {
	if hh, _, err := net.SplitHostPort(host); err == nil {
		host = hh
	}
	host = strings.ToLower(strings.Trim(host, "[]"))
	return net.ParseIP(host) != nil || host == "localhost" || h.hosts[host]
}

func sameHost(a, b string) bool {
	return strings.EqualFold(a, b) || (isLoopback(a) && isLoopback(b))
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// normalizeOrigin lower-cases an origin and drops a trailing slash, the
// forms a user may type in --cors-origin that a browser never sends.
func normalizeOrigin(o string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(o)), "/")
}

func normalizeOrigins(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, o := range list {
		if o = normalizeOrigin(o); o != "" {
			m[o] = true
		}
	}
	return m
}
