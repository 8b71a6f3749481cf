package grpcgo

import (
	"context"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/norikv/norikv-go/conformance"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// grpcServer is a NoriKV node written as a plain grpc-go server, the
// shape of the upstream Go SDK's test server: one node, one shard, Kv
// (versions and if_match, nothing more) and Meta.WatchCluster. It speaks
// what grpc-go speaks, gRPC with binary protobuf over HTTP/2 only, and
// refuses the rest grpc-go's own way (HTTP/2 frames to HTTP/1.1, 415 to
// other content types), not the embedded server's.
type grpcServer struct {
	addr string
	mu   sync.Mutex
	idx  uint64
	kv   map[string]*v1.GetResponse
}

func (s *grpcServer) put(req *v1.PutRequest) (*v1.PutResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.kv[string(req.GetKey())]
	if err := ifMatch(cur, req.GetIfMatch()); err != nil {
		return nil, err
	}
	s.idx++
	v := &v1.Version{Term: 1, Index: s.idx}
	s.kv[string(req.GetKey())] = &v1.GetResponse{Value: req.GetValue(), Version: v}
	return &v1.PutResponse{Version: v}, nil
}

func (s *grpcServer) get(req *v1.GetRequest) (*v1.GetResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.kv[string(req.GetKey())]; r != nil {
		return r, nil
	}
	return &v1.GetResponse{}, nil
}

func (s *grpcServer) del(req *v1.DeleteRequest) (*v1.DeleteResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cur := s.kv[string(req.GetKey())]
	if err := ifMatch(cur, req.GetIfMatch()); err != nil {
		return nil, err
	}
	delete(s.kv, string(req.GetKey()))
	s.idx++
	return &v1.DeleteResponse{Tombstoned: cur != nil, Version: &v1.Version{Term: 1, Index: s.idx}}, nil
}

// ifMatch is the compare of a write with if_match m on the key's current
// entry cur (nil if missing).
func ifMatch(cur *v1.GetResponse, m *v1.Version) error {
	if m != nil && (cur == nil || cur.GetVersion().GetIndex() != m.GetIndex() || cur.GetVersion().GetTerm() != m.GetTerm()) {
		return status.Error(codes.FailedPrecondition, "version mismatch")
	}
	return nil
}

// unary adapts one handler to grpc-go's MethodDesc, as generated code does.
func unary[Req any, PReq interface {
	*Req
	any
}, Res any](name string, h func(PReq) (Res, error)) grpc.MethodDesc {
	return grpc.MethodDesc{MethodName: name, Handler: func(_ any, ctx context.Context, dec func(any) error, _ grpc.UnaryServerInterceptor) (any, error) {
		req := PReq(new(Req))
		if err := dec(req); err != nil {
			return nil, err
		}
		return h(req)
	}}
}

func startGRPCServer(t *testing.T) *grpcServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &grpcServer{addr: ln.Addr().String(), kv: map[string]*v1.GetResponse{}}
	gs := grpc.NewServer()
	gs.RegisterService(&grpc.ServiceDesc{
		ServiceName: "norikv.v1.Kv", HandlerType: (*any)(nil),
		Methods: []grpc.MethodDesc{unary("Put", s.put), unary("Get", s.get), unary("Delete", s.del)},
	}, s)
	gs.RegisterService(&grpc.ServiceDesc{
		ServiceName: "norikv.v1.Meta", HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "WatchCluster", ServerStreams: true, Handler: func(_ any, st grpc.ServerStream) error {
			if err := st.RecvMsg(new(v1.ClusterView)); err != nil {
				return err
			}
			view := &v1.ClusterView{Epoch: 1, Nodes: []*v1.ClusterNode{{Id: "n1", Addr: s.addr, Role: "leader"}},
				Shards: []*v1.ShardInfo{{Id: 0, Replicas: []*v1.ShardReplica{{NodeId: "n1", Leader: true}}}}}
			if err := st.SendMsg(view); err != nil {
				return err
			}
			<-st.Context().Done()
			return nil
		}}},
	}, s)
	go func() { _ = gs.Serve(ln) }()
	t.Cleanup(gs.Stop)
	return s
}

// TestConformanceAgainstGRPCGo: the suite, run with its defaults against
// a grpc-go server, finds that it speaks grpc/pb/h2 only, skips every
// other transport once as not served (grpc-go's refusals, not ours),
// reads the view over gRPC so watch runs, and judges the Kv rules the
// server keeps (versions, cas_put) as passing.
func TestConformanceAgainstGRPCGo(t *testing.T) {
	s := startGRPCServer(t)
	rep, err := conformance.Run(context.Background(), conformance.Target{Addrs: []string{s.addr}},
		conformance.Options{Cases: []string{"versions", "cas_put", "watch", "not_leader"}})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	_ = rep.WriteTable(&b)
	t.Log("\n" + b.String())
	if !slices.Equal(rep.Speaks, []string{"grpc/pb/h2"}) || rep.ViewOver != "grpc/pb/h2" {
		t.Errorf("Speaks %v, ViewOver %q; want grpc/pb/h2 for both", rep.Speaks, rep.ViewOver)
	}
	for _, c := range rep.Cases {
		for _, tr := range rep.Transports {
			res, _ := rep.Lookup(c, tr)
			switch {
			case tr == "grpc/pb/h2" && c == "not_leader":
				if res.Status != conformance.StatusSkip || !strings.Contains(res.Reason, "needs at least 2") {
					t.Errorf("not_leader on one node = %v %q, want skipped for want of a second node", res.Status, res.Reason)
				}
			case tr == "grpc/pb/h2":
				if res.Status != conformance.StatusPass {
					t.Errorf("%s over grpc/pb/h2 = %v %q, want pass", c, res.Status, res.Reason)
				}
			case strings.HasPrefix(tr, "grpc/") && strings.HasSuffix(tr, "/h1"):
			default:
				if res.Status != conformance.StatusSkip || !strings.HasPrefix(res.Reason, "not served: ") {
					t.Errorf("%s over %s = %v %q, want skipped as not served", c, tr, res.Status, res.Reason)
				}
			}
		}
	}
}
