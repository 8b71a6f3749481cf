// Package web serves the NoriKV web console: a single-page app written in
// plain TypeScript under web/src, bundled by esbuild into web/dist and
// embedded here, so `go run ./cmd/norikv serve` serves it with no Node
// installed. The bundle is rebuilt and drift-checked by scripts/web.sh.
//
// The page talks to the cluster it was loaded from (Connect or gRPC-Web,
// chosen in the page), so a node serving it should also answer CORS for
// its own origin: see server.Config.UI and server.Config.CORSOrigins.
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

// Prefix is the path the console is served under.
const Prefix = "/ui/"

//go:embed dist
var dist embed.FS

// Assets returns the bundled files (index.html, app.js, app.css).
func Assets() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is embedded above; Sub cannot fail on it
	}
	return sub
}

// Handler serves the console under Prefix ("/ui/" is index.html) and
// redirects "/ui" to it. Mount it on a mux at Prefix.
func Handler() http.Handler {
	files := http.StripPrefix(Prefix, http.FileServerFS(Assets()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/ui" {
			http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		// The bundle changes with the binary, not the URL: revalidate
		// every load so a rebuilt server never serves a stale page.
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
