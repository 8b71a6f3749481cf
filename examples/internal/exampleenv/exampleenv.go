// Package exampleenv is what every example under examples/ shares: the
// flags that point it at a cluster, and an embedded cluster when none is
// given, so "go run ./examples/quickstart" works on a fresh machine.
//
//	--target host:port[,host:port]   an existing cluster (default: start an embedded one)
//	--shards N                       the cluster's shard count (default 1024)
//	--protocol grpc|connect|grpcweb  the RPC protocol (default grpc)
//	--token T                        bearer token, if the cluster wants one
package exampleenv

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/server"
)

// Env is what an example runs with.
type Env struct {
	// Client is connected to the cluster; Run closes it.
	Client *norikv.Client
	// Config is the configuration Client was built from, for examples
	// that build a second client.
	Config norikv.Config
	// Cluster is the embedded cluster, or nil when --target was given.
	// Examples use it only to cause what a real cluster does by itself
	// (a leader moving), and skip that part against a real one.
	Cluster *server.Cluster
}

// Run parses the flags, connects (starting an embedded cluster if needed),
// calls body and cleans up. It exits the process with status 1 and one
// line on stderr if anything fails, after closing the client and the
// cluster (which os.Exit in body would skip).
func Run(body func(ctx context.Context, env *Env) error) {
	if err := run(body); err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", progName(), err)
		os.Exit(1)
	}
}

func run(body func(ctx context.Context, env *Env) error) error {
	target := flag.String("target", "", "cluster nodes, host:port[,host:port] (default: start an embedded cluster)")
	shards := flag.Int("shards", server.DefaultShards, "the cluster's shard count")
	protocol := flag.String("protocol", "grpc", "RPC protocol: grpc, connect or grpcweb")
	token := flag.String("token", "", "bearer token sent with every request")
	grpcOnly := flag.Bool("grpc-only", false, "the embedded cluster speaks gRPC, binary protobuf, HTTP/2 only, as the production NoriKV server does")
	flag.Parse()

	env := &Env{Config: norikv.Config{TotalShards: *shards, BearerToken: *token, Timeout: 5 * time.Second}}
	switch *protocol {
	case "grpc":
		env.Config.Protocol = norikv.ProtocolGRPC
	case "connect":
		env.Config.Protocol = norikv.ProtocolConnect
	case "grpcweb":
		env.Config.Protocol = norikv.ProtocolGRPCWeb
	default:
		return fmt.Errorf("--protocol %q: want grpc, connect or grpcweb", *protocol)
	}
	if *target != "" {
		env.Config.Nodes = strings.Split(*target, ",")
	} else {
		// An embedded development cluster on ephemeral loopback ports:
		// three nodes in this process, gone when the example ends.
		c, err := server.Start(server.Config{Shards: *shards, Token: *token, GRPCOnly: *grpcOnly})
		if err != nil {
			return err
		}
		defer c.Close()
		env.Cluster, env.Config.Nodes = c, c.Addrs()
		fmt.Printf("(embedded cluster: %d nodes, %d shards; pass --target host:port to use yours)\n", len(c.Addrs()), *shards)
	}
	client, err := norikv.New(env.Config)
	if err != nil {
		return err
	}
	defer client.Close()
	env.Client = client

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := client.Connect(ctx); err != nil {
		return err
	}
	return body(ctx, env)
}

func progName() string {
	name := os.Args[0]
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSuffix(name, ".exe")
}
