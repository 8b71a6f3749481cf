// Command norikv is the NoriKV command line: it runs an embedded
// development cluster (serve), reads and writes keys (get, put, del),
// shows and watches the topology and moves shard leaders (cluster, cluster
// transfer, watch), manages vector indexes
// (vector) and checks any cluster against the wire contract (conformance).
//
//	norikv serve                      # 3 nodes on 127.0.0.1:9001-9003
//	norikv put user:alice Alice       # in another terminal
//	norikv get user:alice
//	norikv cluster
//	norikv help
//
// Commands that talk to a cluster share --target (default 127.0.0.1:9001),
// --protocol, --shards, --timeout, --token, --ca and --json (clientflags.go).
// Exit status: 0 ok, 1 error, 2 bad usage, 3 not found, 4 version mismatch.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], IO{Stdout: os.Stdout, Stderr: os.Stderr}))
}
