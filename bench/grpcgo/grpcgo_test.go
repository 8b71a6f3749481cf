package grpcgo

import (
	"context"
	"testing"
	"time"

	"github.com/norikv/norikv-go/internal/loadgen/targets"
	"github.com/norikv/norikv-go/server"
)

// The plain grpc-go client interoperates with the embedded server.
func TestPutGet(t *testing.T) {
	cl, err := server.Start(server.Config{Shards: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	tab, err := targets.NewTable(cl.View())
	if err != nil {
		t.Fatal(err)
	}
	g, err := New(tab)
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if found, err := g.Get(ctx, "k"); err != nil || found {
		t.Fatalf("Get before Put = %v, %v", found, err)
	}
	if err := g.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if found, err := g.Get(ctx, "k"); err != nil || !found {
		t.Fatalf("Get after Put = %v, %v", found, err)
	}
}
