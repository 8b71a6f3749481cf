package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/norikv/norikv-go/server"
)

func init() {
	register(&command{
		Name:    "serve",
		Summary: "run an embedded development cluster (N nodes in one process)",
		Run:     runServe,
	})
}

const serveExamples = `  norikv serve
      3 nodes on 127.0.0.1:9001-9003, 1024 shards
  norikv serve --nodes 5 --shards 256 --port 7001
  norikv serve --port 0
      ephemeral ports (printed on start)
  norikv serve --tls-cert cert.pem --tls-key key.pem --token s3cret
      TLS, and every request must carry "authorization: Bearer s3cret"
  norikv serve --metrics-addr :9090 --pprof
      Prometheus metrics at :9090/metrics, profiles at :9090/debug/pprof/
`

// runServe starts the cluster, prints "<node id> <addr>" per node and
// serves until ctx is cancelled (SIGINT or SIGTERM), then shuts down
// gracefully.
func runServe(ctx context.Context, o IO, args []string) error {
	fs := newFlagSet(o, "serve", "[flags]", serveExamples)
	nodes := fs.Int("nodes", server.DefaultNodes, "number of nodes `N` (ids n1..nN)")
	shards := fs.Int("shards", server.DefaultShards, "number of shards")
	host := fs.String("host", server.DefaultHost, "interface to listen on")
	port := fs.Int("port", 9001, "port of node n1; node i listens on port+i-1 (0: ephemeral ports)")
	replication := fs.Int("replication", 0, "replicas per shard (default min(3, nodes))")
	certFile := fs.String("tls-cert", "", "serve TLS with this PEM certificate `file` (needs --tls-key)")
	keyFile := fs.String("tls-key", "", "PEM private key `file` for --tls-cert")
	token := fs.String("token", "", "require \"authorization: Bearer <token>\" on every request")
	verbose := fs.Bool("v", false, "log node lifecycle events to stderr")
	metrics := addMetricsFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := metrics.check(); err != nil {
		return err
	}
	switch {
	case *nodes < 1:
		return usagef("--nodes must be at least 1")
	case *shards < 1:
		return usagef("--shards must be at least 1")
	case *port < 0 || *port > 65535:
		return usagef("--port %d is not a port", *port)
	case *replication < 0 || *replication > *nodes:
		return usagef("--replication must be between 1 and --nodes (%d)", *nodes)
	case (*certFile == "") != (*keyFile == ""):
		return usagef("--tls-cert and --tls-key go together")
	}
	cfg := server.Config{
		Nodes:             *nodes,
		Shards:            *shards,
		ReplicationFactor: *replication,
		Host:              *host,
		BasePort:          *port,
		Token:             *token,
		TLSCertFile:       *certFile,
		TLSKeyFile:        *keyFile,
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(o.Stderr, nil))
	}
	c, err := server.Start(cfg)
	if err != nil {
		return err
	}
	stopMetrics, err := metrics.start(c, o)
	if err != nil {
		c.Close()
		return err
	}
	defer stopMetrics()
	for _, id := range c.NodeIDs() {
		fmt.Fprintf(o.Stdout, "%s %s\n", id, c.Addr(id))
	}
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return c.Shutdown(sctx)
}
