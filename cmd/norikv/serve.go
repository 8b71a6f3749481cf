package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/norikv/norikv-go/server"
	"github.com/norikv/norikv-go/web"
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
  norikv serve --no-faults
      the web console without its buttons that stop, restart or slow nodes
  norikv serve --grpc-only
      serve as the production NoriKV server does: gRPC, binary protobuf,
      HTTP/2 only (no console); test a client or a suite against that shape
  norikv serve --metrics-addr :9090 --pprof
      Prometheus metrics at 127.0.0.1:9090/metrics, profiles at
      127.0.0.1:9090/debug/pprof/ (loopback only; behind --token if set)
  norikv serve --host 0.0.0.0 --token s3cret
      listen on every interface: needs --token (or --insecure)
`

// runServe starts the cluster, prints the banner (printBanner) and serves
// until ctx is cancelled (SIGINT or SIGTERM), then shuts down gracefully.
func runServe(ctx context.Context, o IO, args []string) error {
	fs := newFlagSet(o, "serve", "[flags]", serveExamples)
	nodes := fs.Int("nodes", server.DefaultNodes, "number of nodes `N` (ids n1..nN)")
	shards := fs.Int("shards", server.DefaultShards, "number of shards")
	host := fs.String("host", server.DefaultHost, "interface to listen on (beyond loopback, e.g. 0.0.0.0, needs --token or --insecure)")
	port := fs.Int("port", 9001, "port of node n1; node i listens on port+i-1 (0: ephemeral ports)")
	replication := fs.Int("replication", 0, "replicas per shard (default min(3, nodes))")
	certFile := fs.String("tls-cert", "", "serve TLS with this PEM certificate `file` (needs --tls-key)")
	keyFile := fs.String("tls-key", "", "PEM private key `file` for --tls-cert")
	token := fs.String("token", "", "require \"authorization: Bearer <token>\" on every request (needed with a --host beyond loopback)")
	insecure := fs.Bool("insecure", false, "allow a --host beyond loopback without --token: anyone who can reach the port reads and writes every key")
	lag := fs.Duration("replication-lag", 0, "followers outside the write majority apply writes this `long` after the leader, so stale_ok reads can see older versions (e.g. 50ms; 0: every replica is current)")
	dataDir := fs.String("data-dir", "", "keep the data in `dir` (created if missing) and load it on start; default: in memory, lost on exit")
	syncMode := fs.String("sync", string(server.SyncBatch), "with --data-dir, when to fsync: batch (before acknowledging, one fsync for writes arriving together), always (one fsync per write), none (leave it to the OS: survives a crash of the server, not of the machine)")
	verbose := fs.Bool("v", false, "log node lifecycle events to stderr")
	noUI := fs.Bool("no-ui", false, "do not serve the web console at /ui/")
	noFaults := fs.Bool("no-faults", false, "turn off the console's buttons that break the cluster on purpose (stop and restart a node, slow a node down, the load generator)")
	grpcOnly := fs.Bool("grpc-only", false, "serve gRPC with binary protobuf over HTTP/2 only, as the production NoriKV server does: Connect, gRPC-Web, JSON and HTTP/1.1 are refused (implies --no-ui)")
	var corsOrigins []string
	fs.Func("cors-origin", "also let web pages from `origin` (e.g. http://localhost:5173; * for any) call the nodes; repeatable. The console's own origin is always allowed", func(v string) error {
		corsOrigins = append(corsOrigins, v)
		return nil
	})
	metrics := addMetricsFlags(fs)
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := metrics.check(); err != nil {
		return err
	}
	if err := checkExposure(o, *host, *token, *insecure); err != nil {
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
	case *lag < 0:
		return usagef("--replication-lag must not be negative")
	case *grpcOnly && len(corsOrigins) > 0:
		return usagef("--grpc-only and --cors-origin do not go together: browsers speak Connect and gRPC-Web")
	case *syncMode != string(server.SyncBatch) && *syncMode != string(server.SyncAlways) && *syncMode != string(server.SyncNone):
		return usagef("--sync must be batch, always or none, not %q", *syncMode)
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
		CORSOrigins:       corsOrigins,
		ReplicationLag:    *lag,
		DataDir:           *dataDir,
		Sync:              server.SyncMode(*syncMode),
		GRPCOnly:          *grpcOnly,
	}
	*noUI = *noUI || *grpcOnly
	if !*noUI {
		cfg.UI = web.Handler()
		cfg.Console = true
		cfg.ConsoleControls = !*noFaults
	}
	if *verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(o.Stderr, nil))
	}
	c, err := server.Start(cfg)
	if err != nil {
		return err
	}
	stopMetrics, err := metrics.start(c, o, *token)
	if err != nil {
		c.Close()
		return err
	}
	printBanner(o.Stdout, c, *dataDir, *certFile, *token, !*noUI)
	if *grpcOnly {
		fmt.Fprintln(o.Stdout, "gRPC-only: the nodes speak gRPC with binary protobuf over HTTP/2 and refuse everything else")
	}
	<-ctx.Done()
	return stopServe(o, c, stopMetrics, *dataDir)
}

// shutdownGrace is how long Ctrl-C lets requests in flight finish before
// serve cuts their connections: the whole stop stays well within a
// second, also under load.
const shutdownGrace = 500 * time.Millisecond

// stopServe stops the cluster gracefully, cutting what is still in flight
// after shutdownGrace (that is the point of Ctrl-C, not an error), and
// says goodbye in one line.
func stopServe(o IO, c *server.Cluster, stopMetrics func(), dataDir string) error {
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	err := c.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = nil
	}
	stopMetrics()
	if err != nil {
		return err
	}
	kept := "in-memory data discarded"
	if dataDir != "" {
		kept = "data kept in " + dataDir
	}
	fmt.Fprintf(o.Stdout, "norikv serve: stopped (%s)\n", kept)
	return nil
}

// printBanner says what runs: the cluster's shape, one "<node id> <addr>"
// line per node (scripts parse these), how to stop it, and a first
// command to try that works as printed (with the --target, --token and
// --ca this cluster needs).
func printBanner(w io.Writer, c *server.Cluster, dataDir, certFile, token string, ui bool) {
	rf := 0
	if v := c.View(); len(v.GetShards()) > 0 {
		rf = len(v.GetShards()[0].GetReplicas())
	}
	ids := c.NodeIDs()
	storage := "in memory, nothing persisted"
	if dataDir != "" {
		storage = "persisted in " + dataDir
	}
	fmt.Fprintf(w, "NoriKV development cluster: %d nodes, %d shards, replication %d (%s)\n",
		len(ids), c.Shards(), rf, storage)
	for _, id := range ids {
		fmt.Fprintf(w, "%s %s\n", id, c.Addr(id))
	}
	if ui {
		scheme := "http"
		if certFile != "" {
			scheme = "https"
		}
		fmt.Fprintf(w, "Web console: %s://%s/ui/\n", scheme, c.Addrs()[0])
	}
	var flags strings.Builder
	if addrs := strings.Join(c.Addrs(), ","); !strings.HasPrefix(addrs, defaultTarget+",") && addrs != defaultTarget {
		fmt.Fprintf(&flags, " --target %s", addrs)
	}
	if token != "" {
		fmt.Fprintf(&flags, " --token %s", token)
	}
	if certFile != "" {
		fmt.Fprintf(&flags, " --ca %s", certFile)
	}
	self, installed := selfCommand()
	fmt.Fprintf(w, "Ctrl-C to stop. In another terminal, try:\n  %[1]s put user:alice Alice%[2]s\n  %[1]s get user:alice%[2]s\n  %[1]s cluster%[2]s\n",
		self, flags.String())
	if !installed {
		fmt.Fprintf(w, "(or install the command once, 'go install ./cmd/norikv' from this repository, and type 'norikv' instead of %q)\n", self)
	}
}

// selfCommand is how to run this command again from another terminal as
// it was started: "norikv" if that is what PATH finds; "go run ./cmd/norikv"
// under go run (its binary is a temporary file that goes away with it),
// assuming the repository root as working directory, as the README has
// it; else the path it was started by. installed reports "norikv".
func selfCommand() (cmd string, installed bool) {
	exe, err := os.Executable()
	if err != nil {
		return "norikv", true
	}
	if p, err := exec.LookPath("norikv"); err == nil {
		if a, b := statOf(p), statOf(exe); a != nil && b != nil && os.SameFile(a, b) {
			return "norikv", true
		}
	}
	if strings.Contains(filepath.ToSlash(exe), "/go-build") {
		return "go run ./cmd/norikv", false
	}
	return os.Args[0], false
}

func statOf(path string) os.FileInfo {
	fi, err := os.Stat(path)
	if err != nil {
		return nil
	}
	return fi
}
