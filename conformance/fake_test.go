package conformance

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"

	"buf.build/go/protovalidate"
	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/wire"
)

// fakeCluster is a small in-memory NoriKV (Kv, Meta, Admin, optionally Vector) that
// follows the contract. It exists to test the suite itself: the suite must
// pass it, and must name each defect once it is switched on (fakeDefects).
// It is not a server: one shared state, every node a replica of every shard.
type fakeCluster struct {
	shards int
	nodes  []*fakeNode
	// Set before the first request; read without the lock afterwards.
	fakeDefects

	mu      sync.Mutex
	epoch   uint64
	leader  []int // shard → node index
	term    []uint64
	index   []uint64
	data    map[string]fakeEntry
	idem    map[string]fakeIdem
	indexes map[string]*fakeIndex
	changed chan struct{} // closed and replaced on every view change
}

// fakeDefects are the ways real servers are known to deviate. Each switch
// reproduces one, so a test can check that the suite names it.
type fakeDefects struct {
	// missingNotFound answers Get of a missing key with NOT_FOUND, as the
	// upstream Go SDK's test server does (allowed: clients accept both).
	missingNotFound bool
	// hintNodeID puts the leader's node id in leader-hint and sends no
	// leader-id, as older servers did (allowed).
	hintNodeID bool
	// ignoreDeleteIfMatch accepts if_match on Delete and deletes anyway
	// (the Rust server).
	ignoreDeleteIfMatch bool
	// ignoreIdempotency applies every request again, key or not.
	ignoreIdempotency bool
	// idemIgnoresRequest answers a reused idempotency key with the first
	// result whatever the request (the Rust server's cache).
	idemIgnoresRequest bool
	// noLeaderHint sends NOT_LEADER with no hint at all (the Rust server,
	// whose hint header is dropped).
	noLeaderHint bool
	// foreignHint, if set, is the address NOT_LEADER names (in leader-hint,
	// leader-addr and the detail) instead of the leader's own; the node id
	// stays right.
	foreignHint string
}

type fakeEntry struct {
	value   []byte
	ver     *v1.Version
	expires time.Time
}

type fakeIdem struct {
	req  []byte
	resp proto.Message
}

type fakeNode struct {
	c    *fakeCluster
	id   string
	addr string
	srv  *http.Server
}

func startFake(t *testing.T, nodes, shards int, withVector bool) *fakeCluster {
	t.Helper()
	c := &fakeCluster{shards: shards, epoch: 1, data: map[string]fakeEntry{}, idem: map[string]fakeIdem{}, indexes: map[string]*fakeIndex{}, changed: make(chan struct{})}
	for s := range shards {
		c.leader = append(c.leader, s%nodes)
		c.term = append(c.term, 1)
		c.index = append(c.index, 0)
	}
	for i := range nodes {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		n := &fakeNode{c: c, id: "n" + strconv.Itoa(i+1), addr: ln.Addr().String()}
		mux := http.NewServeMux()
		mux.Handle(norikvv1connect.NewKvHandler(n))
		mux.Handle(norikvv1connect.NewMetaHandler(n))
		mux.Handle(norikvv1connect.NewAdminHandler(n))
		if withVector {
			mux.Handle(norikvv1connect.NewVectorHandler(fakeVector{n}))
		}
		var p http.Protocols
		p.SetHTTP1(true)
		p.SetUnencryptedHTTP2(true)
		n.srv = &http.Server{Handler: mux, Protocols: &p}
		go func() { _ = n.srv.Serve(ln) }()
		c.nodes = append(c.nodes, n)
	}
	t.Cleanup(func() {
		for _, n := range c.nodes {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = n.srv.Shutdown(ctx)
			cancel()
			_ = n.srv.Close()
		}
	})
	return c
}

func (c *fakeCluster) addrs() []string {
	var a []string
	for _, n := range c.nodes {
		a = append(a, n.addr)
	}
	return a
}

func (c *fakeCluster) viewLocked() *v1.ClusterView {
	v := &v1.ClusterView{Epoch: c.epoch}
	for _, n := range c.nodes {
		v.Nodes = append(v.Nodes, &v1.ClusterNode{Id: n.id, Addr: n.addr, Role: "voter"})
	}
	for s := range c.shards {
		v.Shards = append(v.Shards, c.shardInfoLocked(s))
	}
	return v
}

func (c *fakeCluster) shardInfoLocked(s int) *v1.ShardInfo {
	si := &v1.ShardInfo{Id: uint32(s)}
	for i, n := range c.nodes {
		si.Replicas = append(si.Replicas, &v1.ShardReplica{NodeId: n.id, Leader: i == c.leader[s]})
	}
	return si
}

func validate(m proto.Message) error {
	if err := protovalidate.Validate(m); err != nil {
		return connect.NewError(connect.CodeInvalidArgument, err)
	}
	return nil
}

// lead checks, under c.mu, that n leads key's shard.
func (n *fakeNode) lead(key []byte) (int, error) {
	s := routing.Shard(key, n.c.shards)
	if l := n.c.nodes[n.c.leader[s]]; l != n {
		return s, n.c.notLeader(uint32(s), l)
	}
	return s, nil
}

func (c *fakeCluster) notLeader(shard uint32, l *fakeNode) error {
	switch {
	case c.noLeaderHint:
		return connect.NewError(connect.CodeUnavailable, errors.New(wire.NotLeaderPrefix+": this node does not lead the shard"))
	case c.hintNodeID:
		err := wire.NewNotLeaderError(shard, l.id, l.addr)
		err.Meta().Set(wire.HeaderLeaderHint, l.id)
		err.Meta().Del(wire.HeaderLeaderID)
		return err
	case c.foreignHint != "":
		return wire.NewNotLeaderError(shard, l.id, c.foreignHint)
	}
	return wire.NewNotLeaderError(shard, l.id, l.addr)
}

// replay handles idempotency: a stored answer for the same request, or
// INVALID_ARGUMENT for the key reused on another request.
func (n *fakeNode) replay(ik string, req proto.Message) (proto.Message, []byte, error) {
	b, _ := proto.MarshalOptions{Deterministic: true}.Marshal(req)
	if ik == "" || n.c.ignoreIdempotency {
		return nil, b, nil
	}
	if e, ok := n.c.idem[ik]; ok {
		if string(e.req) != string(b) && !n.c.idemIgnoresRequest {
			return nil, b, connect.NewError(connect.CodeInvalidArgument, errors.New("idempotency_key reused for a different request"))
		}
		return e.resp, b, nil
	}
	return nil, b, nil
}

func (n *fakeNode) live(key []byte) (fakeEntry, bool) {
	e, ok := n.c.data[string(key)]
	if ok && !e.expires.IsZero() && time.Now().After(e.expires) {
		delete(n.c.data, string(key))
		return e, false
	}
	return e, ok
}

func casErr(cur, want *v1.Version) error {
	return connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf("version mismatch: current %v, if_match %v", cur, want))
}

func (n *fakeNode) Put(_ context.Context, req *v1.PutRequest) (*v1.PutResponse, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := n.lead(req.GetKey())
	if err != nil {
		return nil, err
	}
	old, b, err := n.replay(req.GetIdempotencyKey(), req)
	if err != nil || old != nil {
		r, _ := old.(*v1.PutResponse)
		return r, err
	}
	if req.GetIfMatch() != nil {
		e, ok := n.live(req.GetKey())
		if !ok || !proto.Equal(e.ver, req.GetIfMatch()) {
			return nil, casErr(e.ver, req.GetIfMatch())
		}
	}
	c.index[s]++
	e := fakeEntry{value: req.GetValue(), ver: &v1.Version{Term: c.term[s], Index: c.index[s]}}
	if req.GetTtlMs() > 0 {
		e.expires = time.Now().Add(time.Duration(req.GetTtlMs()) * time.Millisecond)
	}
	c.data[string(req.GetKey())] = e
	resp := &v1.PutResponse{Version: e.ver}
	if ik := req.GetIdempotencyKey(); ik != "" {
		c.idem[ik] = fakeIdem{req: b, resp: resp}
	}
	return resp, nil
}

func (n *fakeNode) Get(_ context.Context, req *v1.GetRequest) (*v1.GetResponse, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, _ := wire.ParseConsistency(req.GetConsistency()); cl.NeedsLeader() {
		if _, err := n.lead(req.GetKey()); err != nil {
			return nil, err
		}
	}
	e, ok := n.live(req.GetKey())
	switch {
	case !ok && c.missingNotFound:
		return nil, connect.NewError(connect.CodeNotFound, errors.New("key not found"))
	case !ok:
		// The contract's form: OK, empty value, no version.
		return &v1.GetResponse{}, nil
	}
	return &v1.GetResponse{Value: e.value, Version: e.ver}, nil
}

func (n *fakeNode) Delete(_ context.Context, req *v1.DeleteRequest) (*v1.DeleteResponse, error) {
	if err := validate(req); err != nil {
		return nil, err
	}
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s, err := n.lead(req.GetKey())
	if err != nil {
		return nil, err
	}
	old, b, err := n.replay(req.GetIdempotencyKey(), req)
	if err != nil || old != nil {
		r, _ := old.(*v1.DeleteResponse)
		return r, err
	}
	e, ok := n.live(req.GetKey())
	if req.GetIfMatch() != nil && !c.ignoreDeleteIfMatch && (!ok || !proto.Equal(e.ver, req.GetIfMatch())) {
		return nil, casErr(e.ver, req.GetIfMatch())
	}
	c.index[s]++
	delete(c.data, string(req.GetKey()))
	resp := &v1.DeleteResponse{Tombstoned: ok, Version: &v1.Version{Term: c.term[s], Index: c.index[s]}}
	if ik := req.GetIdempotencyKey(); ik != "" {
		c.idem[ik] = fakeIdem{req: b, resp: resp}
	}
	return resp, nil
}

func (n *fakeNode) WatchCluster(ctx context.Context, _ *v1.ClusterView, st *connect.ServerStream[v1.ClusterView]) error {
	var last uint64
	for {
		n.c.mu.Lock()
		v, ch := n.c.viewLocked(), n.c.changed
		n.c.mu.Unlock()
		if v.GetEpoch() > last {
			if err := st.Send(v); err != nil {
				return err
			}
			last = v.GetEpoch()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-ch:
		}
	}
}

func (n *fakeNode) TransferShard(_ context.Context, req *v1.ShardInfo) (*v1.ShardInfo, error) {
	c := n.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s := int(req.GetId())
	if s >= c.shards {
		return nil, connect.NewError(connect.CodeInvalidArgument, errors.New("no such shard"))
	}
	for _, r := range req.GetReplicas() {
		if !r.GetLeader() {
			continue
		}
		for i, nd := range c.nodes {
			if nd.id == r.GetNodeId() && i != c.leader[s] {
				c.leader[s] = i
				c.term[s]++
				c.epoch++
				close(c.changed)
				c.changed = make(chan struct{})
			}
		}
	}
	return c.shardInfoLocked(s), nil
}

func (n *fakeNode) SnapshotShard(_ context.Context, req *v1.ShardInfo) (*v1.ShardInfo, error) {
	n.c.mu.Lock()
	defer n.c.mu.Unlock()
	return n.c.shardInfoLocked(int(req.GetId())), nil
}
