package grpcgo

import (
	"context"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"

	"github.com/norikv/norikv-go/server"
)

// What grpcurl does (`grpcurl -plaintext host:port list`, then describe),
// and a grpc-go health probe, against a node of the embedded server.
func TestHealthAndReflection(t *testing.T) {
	cl, err := server.Start(server.Config{Nodes: 1, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	conn, err := grpc.NewClient(cl.Addr("n1"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	res, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: "norikv.v1.Kv"})
	if err != nil || res.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health Check = %v, %v", res, err)
	}

	stream, err := reflectpb.NewServerReflectionClient(conn).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := stream.CloseSend(); err != nil {
			t.Error(err)
		}
	}()
	if err := stream.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	reply, err := stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range reply.GetListServicesResponse().GetService() {
		names = append(names, s.GetName())
	}
	for _, want := range []string{"norikv.v1.Kv", "norikv.v1.Meta", "norikv.v1.Admin", "norikv.v1.Vector", "grpc.health.v1.Health"} {
		if !slices.Contains(names, want) {
			t.Errorf("reflection lists %v, missing %s", names, want)
		}
	}
	// describe norikv.v1.Kv: the file holding the symbol comes back.
	if err := stream.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_FileContainingSymbol{FileContainingSymbol: "norikv.v1.Kv"}}); err != nil {
		t.Fatal(err)
	}
	reply, err = stream.Recv()
	if err != nil {
		t.Fatal(err)
	}
	if fds := reply.GetFileDescriptorResponse().GetFileDescriptorProto(); len(fds) == 0 {
		t.Fatalf("no file descriptor for norikv.v1.Kv: %v", reply)
	}
}
