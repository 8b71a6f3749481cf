package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/norikv/norikv-go/server"
)

// metricsFlags are serve's --metrics-addr and --pprof: one HTTP listener,
// beside the nodes' ports, for operators rather than clients.
//
// Safe by default: an address without a host (":9090") listens on
// loopback, like the nodes; listening beyond it takes a host that says so
// ("0.0.0.0:9090"). pprof shows the process's command line, --token
// included, and lets anyone take CPU profiles: it is refused on a
// listener beyond loopback, and needs the bearer token when serve has one.
type metricsFlags struct {
	addr  *string
	pprof *bool
}

func addMetricsFlags(fs *flagSet) metricsFlags {
	return metricsFlags{
		addr:  fs.String("metrics-addr", "", "serve Prometheus metrics at http://`addr`/metrics (\":9090\" is 127.0.0.1:9090; give a host, e.g. 0.0.0.0:9090, to listen beyond loopback; port 0: ephemeral)"),
		pprof: fs.Bool("pprof", false, "also serve net/http/pprof at /debug/pprof/ on --metrics-addr (loopback only; with --token, it needs the token)"),
	}
}

// check rejects --pprof without --metrics-addr or beyond loopback, and
// puts a host-less --metrics-addr on loopback.
func (f metricsFlags) check() error {
	if *f.addr == "" {
		if *f.pprof {
			return usagef("--pprof needs --metrics-addr")
		}
		return nil
	}
	host, port, err := net.SplitHostPort(*f.addr)
	if err != nil {
		return usagef("--metrics-addr %q: %v", *f.addr, err)
	}
	if host == "" {
		*f.addr = net.JoinHostPort("127.0.0.1", port)
	} else if *f.pprof && !isLoopbackHost(host) {
		return usagef("--pprof shows the command line (and --token) and takes profiles for whoever connects: it is served on loopback only, not on --metrics-addr %s", *f.addr)
	}
	return nil
}

// start listens on --metrics-addr, if set, and prints the URL to stderr
// (stdout is the node list). The returned function stops it.
func (f metricsFlags) start(c *server.Cluster, o IO, token string) (stop func(), err error) {
	if *f.addr == "" {
		return func() {}, nil
	}
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", *f.addr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", c.MetricsHandler())
	if *f.pprof {
		pp := http.NewServeMux()
		pp.HandleFunc("/debug/pprof/", pprof.Index)
		pp.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		pp.HandleFunc("/debug/pprof/profile", pprof.Profile)
		pp.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		pp.HandleFunc("/debug/pprof/trace", pprof.Trace)
		mux.Handle("/debug/pprof/", server.RequireToken(token, pp))
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(o.Stderr, "norikv serve: metrics: %v\n", err)
		}
	}()
	fmt.Fprintf(o.Stderr, "metrics http://%s/metrics\n", ln.Addr())
	if *f.pprof {
		fmt.Fprintf(o.Stderr, "pprof http://%s/debug/pprof/\n", ln.Addr())
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if srv.Shutdown(ctx) != nil {
			_ = srv.Close()
		}
		<-done
	}, nil
}
