package norikvotel_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	norikv "github.com/norikv/norikv-go/client"
	norikvotel "github.com/norikv/norikv-go/otel"
	"github.com/norikv/norikv-go/server"
)

// newInstrumentedClient returns a client that reports to OpenTelemetry:
// the global tracer and meter providers, unless opts name others.
func newInstrumentedClient(nodes []string, opts ...norikvotel.Option) (*norikv.Client, error) {
	cfg := norikv.Config{Nodes: nodes}
	if err := norikvotel.Instrument(&cfg, opts...); err != nil {
		return nil, err
	}
	return norikv.New(cfg)
}

// Instrument a client and print its spans with the console exporter. The
// spans (a norikv.Put with its norikv.v1.Kv/Put attempt, naming the node)
// go to stderr: run it with
//
//	go test -run ExampleInstrument -v
func ExampleInstrument() {
	cluster, err := server.Start(server.Config{BasePort: 0})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()

	exporter, err := stdouttrace.New(stdouttrace.WithWriter(os.Stderr), stdouttrace.WithPrettyPrint())
	if err != nil {
		log.Fatal(err)
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exporter))
	defer func() {
		if err := tp.Shutdown(context.Background()); err != nil {
			log.Print(err)
		}
	}()

	client, err := newInstrumentedClient(cluster.Addrs(), norikvotel.WithTracerProvider(tp))
	if err != nil {
		log.Fatal(err)
	}
	defer client.Close()

	v, err := client.Put(context.Background(), "user:alice", []byte("Alice"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("put", v.Index > 0)
	// Output: put true
}
