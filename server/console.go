package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	consolev1 "github.com/norikv/norikv-go/gen/norikv/console/v1"
	"github.com/norikv/norikv-go/gen/norikv/console/v1/consolev1connect"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

// This file is the web console's dev-only service, ConsoleService
// (proto/norikv/console/v1), on every node when Config.Console is set:
// one stream per page of views, events and samples of the server's own
// counters, the vector namespaces, and with Config.ConsoleControls the
// controls that break the cluster on purpose (stop and restart a node,
// slow one down, run the load generator: console_load.go).

const (
	// consoleHistory is how many events the cluster keeps for pages that
	// open later.
	consoleHistory = 256
	// consoleDefaultInterval and consoleMinInterval bound a stream's
	// sampling period.
	consoleDefaultInterval = time.Second
	consoleMinInterval     = 250 * time.Millisecond
)

// console is the cluster's console state: the event history, the node
// delays and the load generator.
type console struct {
	c *Cluster

	mu      sync.Mutex
	events  []*consolev1.Event // the last consoleHistory, oldest first
	seq     uint64
	changed chan struct{} // closed when an event is added

	delays []atomic.Uint32 // per node index, ms (SetNodeDelay)
	hook   sync.Once       // installs the delay FaultHook on first use

	load consoleLoad
	wg   sync.WaitGroup // self-stops run after their reply (StopNode)
}

// newConsole makes the console state, before the nodes mount its
// service; Start runs record once the first view is published.
func newConsole(c *Cluster) *console {
	k := &console{c: c, changed: make(chan struct{}), delays: make([]atomic.Uint32, c.cfg.Nodes)}
	k.load.k = k
	return k
}

// record diffs each view with the one before it into an Event, until
// the cluster closes. A burst
// of views may be seen as one (the broadcast keeps the latest): its event
// then shows the net change. On Close it stops the load generator and
// waits for the console's own goroutines.
func (k *console) record() {
	defer k.c.bg.Done()
	st := k.c.views.load()
	for {
		select {
		case <-st.changed:
		case <-k.c.done:
			k.load.stop()
			k.mu.Lock() // no goroutine starts after this (track)
			k.mu.Unlock()
			k.wg.Wait()
			return
		}
		prev := st.view
		st = k.c.views.load()
		if ev := viewEvent(prev, st.view); ev != nil {
			k.add(ev)
		}
	}
}

// track counts a new goroutine of the console in k.wg, unless the
// cluster is closing (false): record waits for them once done is closed.
func (k *console) track() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.c.isClosed() {
		return false
	}
	k.wg.Add(1)
	return true
}

// viewEvent is what changed from prev to next, or nil if nothing the
// timeline shows did.
func viewEvent(prev, next *v1.ClusterView) *consolev1.Event {
	ev := &consolev1.Event{Epoch: next.GetEpoch()}
	roles := make(map[string]string, len(prev.GetNodes()))
	for _, n := range prev.GetNodes() {
		roles[n.GetId()] = n.GetRole()
	}
	for _, n := range next.GetNodes() {
		if from := roles[n.GetId()]; from != n.GetRole() {
			ev.Nodes = append(ev.Nodes, &consolev1.NodeChange{NodeId: n.GetId(), FromRole: from, ToRole: n.GetRole()})
		}
	}
	before := prev.GetShards()
	for i, s := range next.GetShards() {
		var from string
		if i < len(before) {
			from = shardLeader(before[i])
		}
		if to := shardLeader(s); from != to {
			ev.Moves = append(ev.Moves, &consolev1.LeaderMove{Shard: s.GetId(), FromNode: from, ToNode: to})
		}
	}
	if len(ev.Nodes) == 0 && len(ev.Moves) == 0 {
		return nil
	}
	return ev
}

func shardLeader(s *v1.ShardInfo) string {
	for _, r := range s.GetReplicas() {
		if r.GetLeader() {
			return r.GetNodeId()
		}
	}
	return ""
}

// add stamps ev and appends it to the history.
func (k *console) add(ev *consolev1.Event) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.seq++
	ev.Seq = k.seq
	ev.UnixMs = time.Now().UnixMilli()
	if len(k.events) == consoleHistory {
		k.events = slices.Delete(k.events, 0, 1)
	}
	k.events = append(k.events, ev)
	close(k.changed)
	k.changed = make(chan struct{})
}

// notef adds a control's event.
func (k *console) notef(format string, args ...any) {
	k.add(&consolev1.Event{Note: fmt.Sprintf(format, args...)})
}

// eventsAfter returns the events with a seq above after and a channel
// closed when another is added.
func (k *console) eventsAfter(after uint64) ([]*consolev1.Event, <-chan struct{}) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if after > k.seq {
		after = 0 // a page that saw another run of the cluster: all of this one's
	}
	i, _ := slices.BinarySearchFunc(k.events, after+1, func(e *consolev1.Event, seq uint64) int {
		switch {
		case e.Seq < seq:
			return -1
		case e.Seq > seq:
			return 1
		}
		return 0
	})
	return slices.Clone(k.events[i:]), k.changed
}

// mountConsole mounts ConsoleService on a node when Config.Console is
// set. It is behind the token gate (routes) as the NoriKV services are,
// and the schema check, but not the metrics or fault interceptors: the
// console watching the cluster is not load on it, and a slowed node must
// still answer the control that speeds it up.
func (n *node) mountConsole(mount func(string, http.Handler)) {
	if n.c.console == nil {
		return
	}
	mount(consolev1connect.NewConsoleServiceHandler(&consoleService{k: n.c.console, n: n},
		connect.WithInterceptors(&validateInterceptor{}), connect.WithReadMaxBytes(64<<10)))
}

// consoleService serves ConsoleService on one node.
type consoleService struct {
	k *console
	n *node
}

// Watch sends the view, the recent events and the gauges, then a sample
// every interval, and views and events as they happen, until the client
// goes away, the node stops or the cluster closes.
func (s *consoleService) Watch(ctx context.Context, req *consolev1.WatchRequest, stream *connect.ServerStream[consolev1.WatchResponse]) error {
	c := s.k.c
	interval := consoleDefaultInterval
	if req.GetIntervalMs() > 0 {
		interval = max(time.Duration(req.GetIntervalMs())*time.Millisecond, consoleMinInterval)
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	stopped := s.n.stopped()
	smp := &sampler{c: c}
	after := req.GetAfterSeq()
	var sentView *v1.ClusterView
	due := true // a sample goes in the next message
	for {
		st := c.views.load()
		evs, evChanged := s.k.eventsAfter(after)
		msg := &consolev1.WatchResponse{Controls: c.cfg.ConsoleControls}
		if st.view != sentView {
			msg.View, sentView = st.view, st.view
		}
		if len(evs) > 0 {
			msg.Events, after = evs, evs[len(evs)-1].Seq
		}
		if due {
			msg.Sample, due = smp.sample(), false
		}
		if msg.View != nil || msg.Events != nil || msg.Sample != nil {
			if err := stream.Send(msg); err != nil {
				return err
			}
		}
		select {
		case <-st.changed:
		case <-evChanged:
		case <-tick.C:
			due = true
		case <-ctx.Done():
			return ctx.Err()
		case <-stopped:
			return nil
		case <-c.done:
			return nil
		}
	}
}

// ListNamespaces lists every shard's vector namespaces.
func (s *consoleService) ListNamespaces(context.Context, *consolev1.ListNamespacesRequest) (*consolev1.ListNamespacesResponse, error) {
	res := &consolev1.ListNamespacesResponse{}
	for _, sh := range s.k.c.shards {
		sh.mu.RLock()
		for name, ns := range sh.vectors {
			res.Namespaces = append(res.Namespaces, &consolev1.Namespace{
				Name: name, Dimensions: ns.dims, Distance: ns.distance, IndexType: ns.kind,
				Vectors: uint64(ns.idx.Len()), Shard: sh.id,
			})
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(res.Namespaces, func(a, b *consolev1.Namespace) int { return strings.Compare(a.Name, b.Name) })
	return res, nil
}

var errNoControls = connect.NewError(connect.CodePermissionDenied,
	errors.New("the console's controls are off on this cluster (started with --no-faults, or without server.Config.ConsoleControls)"))

// controlled returns the node a control names, or the error to answer.
func (s *consoleService) controlled(id string) (*node, error) {
	if !s.k.c.cfg.ConsoleControls {
		return nil, errNoControls
	}
	n := s.k.c.byID[id]
	if n == nil {
		return nil, connect.NewError(connect.CodeInvalidArgument,
			fmt.Errorf("node_id: no node %q (the cluster has %s)", id, strings.Join(s.k.c.NodeIDs(), ", ")))
	}
	return n, nil
}

// selfStopDelay is how long a node asked to stop itself waits once the
// request's handler has returned (its ctx ends just before net/http
// flushes the reply), so the reply leaves before the connection closes.
const selfStopDelay = 100 * time.Millisecond

// StopNode stops a node. Stopping the node serving the request would cut
// off the reply (a stop closes the node's connections), so that one stops
// in the background, once the reply is out.
func (s *consoleService) StopNode(ctx context.Context, req *consolev1.StopNodeRequest) (*consolev1.StopNodeResponse, error) {
	n, err := s.controlled(req.GetNodeId())
	if err != nil {
		return nil, err
	}
	if n == s.n {
		if !s.k.track() {
			return nil, errClosed
		}
		go func() {
			defer s.k.wg.Done()
			<-ctx.Done()
			select {
			case <-time.After(selfStopDelay):
				_ = s.k.c.StopNode(n.id)
			case <-s.k.c.done:
			}
		}()
	} else if err := s.k.c.StopNode(n.id); err != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	return &consolev1.StopNodeResponse{}, nil
}

// RestartNode restarts a stopped node.
func (s *consoleService) RestartNode(_ context.Context, req *consolev1.RestartNodeRequest) (*consolev1.RestartNodeResponse, error) {
	n, err := s.controlled(req.GetNodeId())
	if err != nil {
		return nil, err
	}
	if err := s.k.c.RestartNode(n.id); err != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	return &consolev1.RestartNodeResponse{}, nil
}

// SetNodeDelay sets the delay every call to a node waits, through the
// cluster's one fault mechanism: a DelayCalls hook in front of whatever
// hook was installed when the console first slowed a node.
func (s *consoleService) SetNodeDelay(_ context.Context, req *consolev1.SetNodeDelayRequest) (*consolev1.SetNodeDelayResponse, error) {
	n, err := s.controlled(req.GetNodeId())
	if err != nil {
		return nil, err
	}
	k := s.k
	k.hook.Do(func() {
		var next FaultHook
		if h := k.c.faults.Load(); h != nil {
			next = *h
		}
		k.c.SetFaults(DelayCalls(k.delay, next))
	})
	if old := k.delays[n.idx].Swap(req.GetDelayMs()); old != req.GetDelayMs() {
		if req.GetDelayMs() == 0 {
			k.notef("%s answers at full speed again", n.id)
		} else {
			k.notef("%s delays every call by %d ms", n.id, req.GetDelayMs())
		}
	}
	return &consolev1.SetNodeDelayResponse{}, nil
}

// delay is the console's DelayCalls function: a node's delay for the
// NoriKV services' calls.
func (k *console) delay(node, procedure string) time.Duration {
	if !strings.HasPrefix(procedure, "/norikv.v1.") {
		return 0
	}
	if n := k.c.byID[node]; n != nil {
		return time.Duration(k.delays[n.idx].Load()) * time.Millisecond
	}
	return 0
}

// SetLoad starts or stops the load generator.
func (s *consoleService) SetLoad(_ context.Context, req *consolev1.SetLoadRequest) (*consolev1.SetLoadResponse, error) {
	if !s.k.c.cfg.ConsoleControls {
		return nil, errNoControls
	}
	if !req.GetRunning() {
		s.k.load.stop()
	} else if err := s.k.load.start(int(req.GetWorkers()), int(req.GetTargetOps())); err != nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, err)
	}
	return &consolev1.SetLoadResponse{Load: s.k.load.state()}, nil
}

// sampler turns the nodes' request counters (metrics.go) into one
// stream's samples: each sample is the change since the previous one.
type sampler struct {
	c    *Cluster
	at   time.Time
	prev []nodeCounts // per node index; nil before the first sample
}

// nodeCounts is a copy of one node's requestMetrics.
type nodeCounts struct {
	count   [len(metricProcedures)][numCodes]uint64
	buckets [len(metricProcedures)][len(latencyBuckets) + 1]uint64
}

// streamingProcedures are kept out of latency: a stream's time is its
// whole life.
var streamingProcedures = func() (m [len(metricProcedures)]bool) {
	for _, p := range []string{norikvv1connect.MetaWatchClusterProcedure,
		"/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
		"/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"} {
		m[procedureIndex[p]] = true
	}
	return m
}()

// rpcLabels are metricProcedures as the console names them ("Kv/Put").
var rpcLabels = func() (l [len(metricProcedures)]string) {
	for i, p := range metricProcedures {
		p = strings.TrimPrefix(p, "/")
		if j := strings.LastIndexByte(p, '/'); j > 0 {
			if k := strings.LastIndexByte(p[:j], '.'); k >= 0 {
				p = p[k+1:]
			}
		}
		l[i] = p
	}
	return l
}()

func (s *sampler) sample() *consolev1.Sample {
	c := s.c
	now := time.Now()
	out := &consolev1.Sample{UnixMs: now.UnixMilli()}
	if s.prev != nil {
		out.IntervalMs = uint32(now.Sub(s.at).Milliseconds())
	}
	cur := make([]nodeCounts, len(c.nodes))
	var all [len(latencyBuckets) + 1]uint64
	for i, n := range c.nodes {
		m := &n.metrics
		nc := &cur[i]
		ns := &consolev1.NodeSample{NodeId: n.id, Up: n.inc.Load() != nil}
		if c.console != nil {
			ns.DelayMs = c.console.delays[i].Load()
		}
		var lat [len(latencyBuckets) + 1]uint64
		for p := range metricProcedures {
			for code := range numCodes {
				nc.count[p][code] = m.count[p][code].Load()
			}
			for b := range len(latencyBuckets) + 1 {
				nc.buckets[p][b] = m.buckets[p][b].Load()
			}
			if s.prev == nil {
				continue
			}
			pc := &s.prev[i]
			for code := range numCodes {
				if d := nc.count[p][code] - pc.count[p][code]; d > 0 {
					ns.Calls = append(ns.Calls, &consolev1.RpcCount{Rpc: rpcLabels[p], Code: codeLabel(code), Count: d})
				}
			}
			if !streamingProcedures[p] {
				for b := range lat {
					lat[b] += nc.buckets[p][b] - pc.buckets[p][b]
				}
			}
		}
		ns.P50Ms, ns.P99Ms = bucketQuantile(&lat, 0.5), bucketQuantile(&lat, 0.99)
		for b := range all {
			all[b] += lat[b]
		}
		out.Nodes = append(out.Nodes, ns)
	}
	out.P50Ms, out.P99Ms = bucketQuantile(&all, 0.5), bucketQuantile(&all, 0.99)
	s.prev, s.at = cur, now

	for _, sh := range c.shards {
		sh.mu.RLock()
		out.Keys += uint64(len(sh.kv))
		sh.mu.RUnlock()
	}
	entries, evictions := c.idem.metrics()
	out.IdempotencyEntries, out.IdempotencyEvictions = uint64(entries), evictions
	ss := c.SessionStats()
	out.Sessions, out.RetainedAnswers = uint64(ss.Sessions), uint64(ss.Answers)
	if c.console != nil {
		out.Load = c.console.load.state()
	}
	return out
}

// bucketQuantile estimates quantile q of a latency histogram's counts
// (latencyBuckets, then +Inf) in milliseconds, interpolating linearly in
// the bucket it falls in; 0 for an empty histogram.
func bucketQuantile(counts *[len(latencyBuckets) + 1]uint64, q float64) float64 {
	var total uint64
	for _, n := range counts {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	var seen float64
	for b, n := range counts {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			if b == len(latencyBuckets) {
				return latencyBuckets[b-1] * 1000
			}
			lo := 0.0
			if b > 0 {
				lo = latencyBuckets[b-1]
			}
			return (lo + (latencyBuckets[b]-lo)*(rank-seen)/float64(n)) * 1000
		}
		seen += float64(n)
	}
	return latencyBuckets[len(latencyBuckets)-1] * 1000
}
