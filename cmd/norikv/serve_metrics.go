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
type metricsFlags struct {
	addr  *string
	pprof *bool
}

func addMetricsFlags(fs *flagSet) metricsFlags {
	return metricsFlags{
		addr:  fs.String("metrics-addr", "", "serve Prometheus metrics at http://`addr`/metrics (\":9090\"; port 0: ephemeral)"),
		pprof: fs.Bool("pprof", false, "also serve net/http/pprof at /debug/pprof/ on --metrics-addr"),
	}
}

// check rejects --pprof without --metrics-addr.
func (f metricsFlags) check() error {
	if *f.pprof && *f.addr == "" {
		return usagef("--pprof needs --metrics-addr")
	}
	return nil
}

// start listens on --metrics-addr, if set, and prints the URL to stderr
// (stdout is the node list). The returned function stops it.
func (f metricsFlags) start(c *server.Cluster, o IO) (stop func(), err error) {
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
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
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
