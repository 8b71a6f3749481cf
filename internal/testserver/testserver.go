// Package testserver is an in-process fake NoriKV cluster for the SDK's
// unit tests: every node serves Kv, Meta and Vector over HTTP/1.1 and h2c
// (so all three protocols work), shares one store, and answers
// NOT_LEADER for shards it does not lead. Tests inject faults with Hook.
// It is not the embedded server (package server); it exists so the
// client's retry, redirect and topology logic can be tested precisely.
package testserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/wire"
)

// Cluster is a fake cluster.
type Cluster struct {
	Nodes  []*Node
	Shards int

	// Hook, if set, runs before each unary call on a node; a non-nil
	// error is returned to the client instead of serving the call.
	Hook func(node int, procedure string, msg any) error
	// NoMeta makes Meta and Vector answer UNIMPLEMENTED, like servers
	// without them.
	NoMeta atomic.Bool
	// OmitHint makes NOT_LEADER replies carry no leader.
	OmitHint atomic.Bool
	// Watches counts WatchCluster streams opened.
	Watches atomic.Int64
	// MissingAsNotFound answers Get of a missing key with NOT_FOUND, as
	// older servers did. By default a missing key is answered as the
	// contract says (and the Rust server does): OK, empty value, no
	// version.
	MissingAsNotFound atomic.Bool

	mu       sync.Mutex
	leader   []int    // shard → node index
	roles    []string // node index → role in the view; "" is voter
	epoch    uint64
	data     map[string]entry
	idem     map[string]*v1.Version
	index    uint64
	vectors  map[string]map[string][]float32
	watchers map[chan struct{}]struct{}
	hookMu   sync.Mutex
}

type entry struct {
	value   []byte
	version *v1.Version
}

// Node is one fake server.
type Node struct {
	ID    string
	Addr  string
	Calls atomic.Int64 // unary calls received
	srv   *httptest.Server
	quit  chan struct{}
	once  sync.Once
}

// Start starts n nodes with shards shards; node 0 leads every shard. With
// a non-nil t the cluster closes when the test ends; otherwise call Close.
func Start(t testing.TB, n, shards int) *Cluster {
	c := &Cluster{
		Shards:   shards,
		leader:   make([]int, shards),
		epoch:    1,
		data:     map[string]entry{},
		idem:     map[string]*v1.Version{},
		vectors:  map[string]map[string][]float32{},
		watchers: map[chan struct{}]struct{}{},
	}
	for i := range n {
		nd := &Node{ID: fmt.Sprintf("n%d", i+1), quit: make(chan struct{})}
		h := &handler{c: c, i: i, n: nd}
		mux := http.NewServeMux()
		mux.Handle(norikvv1connect.NewKvHandler(h))
		mux.Handle(norikvv1connect.NewMetaHandler(h))
		mux.Handle(norikvv1connect.NewVectorHandler(&vectorHandler{handler: h}))
		srv := httptest.NewUnstartedServer(mux)
		srv.Config.Protocols = new(http.Protocols)
		srv.Config.Protocols.SetHTTP1(true)
		srv.Config.Protocols.SetUnencryptedHTTP2(true)
		srv.Start()
		nd.srv = srv
		nd.Addr = strings.TrimPrefix(srv.URL, "http://")
		c.Nodes = append(c.Nodes, nd)
	}
	if t != nil {
		t.Cleanup(c.Close)
	}
	return c
}

// Addrs returns every node's host:port.
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr
	}
	return out
}

// StopNode closes node i's server and connections.
func (c *Cluster) StopNode(i int) {
	n := c.Nodes[i]
	n.once.Do(func() {
		close(n.quit)
		n.srv.CloseClientConnections()
		n.srv.Close()
	})
}

// Close stops every node.
func (c *Cluster) Close() {
	for i := range c.Nodes {
		c.StopNode(i)
	}
}

// SetLeader makes node lead shard (every shard if shard < 0) and publishes
// a new view.
func (c *Cluster) SetLeader(shard, node int) {
	c.mu.Lock()
	if shard < 0 {
		for s := range c.leader {
			c.leader[s] = node
		}
	} else {
		c.leader[shard] = node
	}
	c.publishLocked()
	c.mu.Unlock()
}

// SetRole gives node role in the view (the server publishes "voter" and
// "down", among others) and publishes a new view.
func (c *Cluster) SetRole(node int, role string) {
	c.mu.Lock()
	if c.roles == nil {
		c.roles = make([]string, len(c.Nodes))
	}
	c.roles[node] = role
	c.publishLocked()
	c.mu.Unlock()
}

// publishLocked bumps the epoch and wakes every watch stream. c.mu is held.
func (c *Cluster) publishLocked() {
	c.epoch++
	for w := range c.watchers {
		select {
		case w <- struct{}{}:
		default:
		}
	}
}

// SetLeaderQuiet changes the leader without publishing a view, as when a
// view update is lost.
func (c *Cluster) SetLeaderQuiet(shard, node int) {
	c.mu.Lock()
	c.leader[shard] = node
	c.mu.Unlock()
}

// Epoch returns the current epoch.
func (c *Cluster) Epoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.epoch
}

// Value returns the stored value of key.
func (c *Cluster) Value(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.data[key]
	return e.value, ok
}

func (c *Cluster) view() *v1.ClusterView {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := &v1.ClusterView{Epoch: c.epoch}
	for i, n := range c.Nodes {
		role := "voter"
		if c.roles != nil && c.roles[i] != "" {
			role = c.roles[i]
		}
		v.Nodes = append(v.Nodes, &v1.ClusterNode{Id: n.ID, Addr: n.Addr, Role: role})
	}
	for s := range c.Shards {
		si := &v1.ShardInfo{Id: uint32(s)}
		for i, n := range c.Nodes {
			si.Replicas = append(si.Replicas, &v1.ShardReplica{NodeId: n.ID, Leader: i == c.leader[s]})
		}
		v.Shards = append(v.Shards, si)
	}
	return v
}

type handler struct {
	c *Cluster
	i int
	n *Node
}

// pre runs the hook and the leader check for a call on shard.
func (h *handler) pre(proc string, msg any, shard int, needLeader bool) error {
	h.n.Calls.Add(1)
	if hook := h.c.Hook; hook != nil {
		if err := hook(h.i, proc, msg); err != nil {
			return err
		}
	}
	if !needLeader {
		return nil
	}
	h.c.mu.Lock()
	l := h.c.leader[shard]
	h.c.mu.Unlock()
	if l == h.i {
		return nil
	}
	if h.c.OmitHint.Load() {
		return wire.NewNotLeaderError(uint32(shard), "", "")
	}
	ln := h.c.Nodes[l]
	return wire.NewNotLeaderError(uint32(shard), ln.ID, ln.Addr)
}

func (h *handler) shard(key []byte) int { return routing.Shard(key, h.c.Shards) }

func (h *handler) Put(_ context.Context, r *v1.PutRequest) (*v1.PutResponse, error) {
	if err := h.pre(norikvv1connect.KvPutProcedure, r, h.shard(r.Key), true); err != nil {
		return nil, err
	}
	c := h.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if r.IdempotencyKey != "" {
		if v, ok := c.idem[r.IdempotencyKey]; ok {
			return &v1.PutResponse{Version: v}, nil
		}
	}
	cur, exists := c.data[string(r.Key)]
	if r.IfMatch != nil {
		if !exists || cur.version.Term != r.IfMatch.Term || cur.version.Index != r.IfMatch.Index {
			return nil, connect.NewError(connect.CodeFailedPrecondition, errors.New("version mismatch"))
		}
	}
	c.index++
	v := &v1.Version{Term: 1, Index: c.index}
	c.data[string(r.Key)] = entry{value: r.Value, version: v}
	if r.IdempotencyKey != "" {
		c.idem[r.IdempotencyKey] = v
	}
	return &v1.PutResponse{Version: v}, nil
}

func (h *handler) Get(_ context.Context, r *v1.GetRequest) (*v1.GetResponse, error) {
	cl, _ := wire.ParseConsistency(r.Consistency)
	if err := h.pre(norikvv1connect.KvGetProcedure, r, h.shard(r.Key), cl.NeedsLeader()); err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	e, ok := h.c.data[string(r.Key)]
	h.c.mu.Unlock()
	if !ok {
		if h.c.MissingAsNotFound.Load() {
			return nil, connect.NewError(connect.CodeNotFound, errors.New("key not found"))
		}
		return &v1.GetResponse{}, nil
	}
	return &v1.GetResponse{Value: e.value, Version: e.version}, nil
}

func (h *handler) Delete(_ context.Context, r *v1.DeleteRequest) (*v1.DeleteResponse, error) {
	if err := h.pre(norikvv1connect.KvDeleteProcedure, r, h.shard(r.Key), true); err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	_, ok := h.c.data[string(r.Key)]
	delete(h.c.data, string(r.Key))
	return &v1.DeleteResponse{Tombstoned: ok}, nil
}

func (h *handler) WatchCluster(ctx context.Context, _ *v1.ClusterView, s *connect.ServerStream[v1.ClusterView]) error {
	h.c.Watches.Add(1)
	if h.c.NoMeta.Load() {
		return connect.NewError(connect.CodeUnimplemented, errors.New("meta not implemented"))
	}
	w := make(chan struct{}, 1)
	h.c.mu.Lock()
	h.c.watchers[w] = struct{}{}
	h.c.mu.Unlock()
	defer func() {
		h.c.mu.Lock()
		delete(h.c.watchers, w)
		h.c.mu.Unlock()
	}()
	for {
		if err := s.Send(h.c.view()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-h.n.quit:
			return connect.NewError(connect.CodeUnavailable, errors.New("node stopping"))
		case <-w:
		}
	}
}

// vectorHandler serves Vector; a separate type because Kv and Vector
// both have a Get.
type vectorHandler struct {
	norikvv1connect.UnimplementedVectorHandler
	*handler
}

func (h *vectorHandler) vectorPre(proc, ns string, msg any) error {
	if h.c.NoMeta.Load() {
		return connect.NewError(connect.CodeUnimplemented, errors.New("vector not implemented"))
	}
	return h.pre(proc, msg, routing.ShardString(ns, h.c.Shards), true)
}

func (h *vectorHandler) CreateIndex(_ context.Context, r *v1.CreateVectorIndexRequest) (*v1.CreateVectorIndexResponse, error) {
	if err := h.vectorPre(norikvv1connect.VectorCreateIndexProcedure, r.Namespace, r); err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	if _, ok := h.c.vectors[r.Namespace]; ok {
		return &v1.CreateVectorIndexResponse{Created: false}, nil
	}
	h.c.vectors[r.Namespace] = map[string][]float32{}
	return &v1.CreateVectorIndexResponse{Created: true}, nil
}

func (h *vectorHandler) Insert(_ context.Context, r *v1.VectorInsertRequest) (*v1.VectorInsertResponse, error) {
	if err := h.vectorPre(norikvv1connect.VectorInsertProcedure, r.Namespace, r); err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	ns, ok := h.c.vectors[r.Namespace]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no index"))
	}
	ns[r.Id] = r.Vector
	h.c.index++
	return &v1.VectorInsertResponse{Inserted: true, Version: &v1.Version{Term: 1, Index: h.c.index}}, nil
}

func (h *vectorHandler) Get(_ context.Context, r *v1.VectorGetRequest) (*v1.VectorGetResponse, error) {
	if err := h.vectorPre(norikvv1connect.VectorGetProcedure, r.Namespace, r); err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	v, ok := h.c.vectors[r.Namespace][r.Id]
	return &v1.VectorGetResponse{Vector: v, Found: ok}, nil
}

func (h *vectorHandler) Delete(_ context.Context, r *v1.VectorDeleteRequest) (*v1.VectorDeleteResponse, error) {
	if err := h.vectorPre(norikvv1connect.VectorDeleteProcedure, r.Namespace, r); err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	_, ok := h.c.vectors[r.Namespace][r.Id]
	delete(h.c.vectors[r.Namespace], r.Id)
	return &v1.VectorDeleteResponse{Deleted: ok}, nil
}

func (h *vectorHandler) DropIndex(_ context.Context, r *v1.DropVectorIndexRequest) (*v1.DropVectorIndexResponse, error) {
	if err := h.vectorPre(norikvv1connect.VectorDropIndexProcedure, r.Namespace, r); err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	_, ok := h.c.vectors[r.Namespace]
	delete(h.c.vectors, r.Namespace)
	return &v1.DropVectorIndexResponse{Dropped: ok}, nil
}

// Search is an exact L2 scan, ties broken by id.
func (h *vectorHandler) Search(_ context.Context, r *v1.VectorSearchRequest) (*v1.VectorSearchResponse, error) {
	if err := h.vectorPre(norikvv1connect.VectorSearchProcedure, r.Namespace, r); err != nil {
		return nil, err
	}
	h.c.mu.Lock()
	defer h.c.mu.Unlock()
	ns, ok := h.c.vectors[r.Namespace]
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, errors.New("no index"))
	}
	var ms []*v1.VectorMatch
	for id, v := range ns {
		var d float32
		for i := range min(len(v), len(r.Query)) {
			x := v[i] - r.Query[i]
			d += x * x
		}
		m := &v1.VectorMatch{Id: id, Distance: d}
		if r.IncludeVectors {
			m.Vector = v
		}
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *v1.VectorMatch) int {
		if c := cmp.Compare(a.Distance, b.Distance); c != 0 {
			return c
		}
		return strings.Compare(a.Id, b.Id)
	})
	if len(ms) > int(r.K) {
		ms = ms[:r.K]
	}
	return &v1.VectorSearchResponse{Matches: ms, SearchTimeUs: 1}, nil
}
