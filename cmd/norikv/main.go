// Command norikv is the NoriKV command line: it runs an embedded
// development cluster (serve) and, as other subcommands are added, talks to
// clusters.
//
//	norikv serve --nodes 3 --shards 1024 --port 9001
//	norikv help
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
