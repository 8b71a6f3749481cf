package conformance

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/internal/wire"
)

func clusterCases() []caseDef {
	return []caseDef{
		{name: "not_leader", run: caseNotLeader},
		{name: "watch", run: caseWatch},
		{name: "topology", run: caseTopology, exclusive: true},
	}
}

// promptly bounds the wait for the first view: it is the current state, so
// a server has nothing to wait for.
const promptly = 3 * time.Second

// needView skips a case that must know the topology when the target did
// not give one.
func (c *cell) needView() (*v1.ClusterView, error) {
	if c.r.view == nil {
		return nil, skipf("no cluster view: Meta.WatchCluster answered %s", describe(c.r.viewErr))
	}
	return c.r.view, nil
}

// caseNotLeader: a write sent to a node that does not lead the key's shard
// is refused with UNAVAILABLE "NOT_LEADER…" and is not applied. The reply
// points at the leader: leader-hint holds its address (the contract's
// form) or its node id (older servers'), both accepted and reported; no
// hint at all is the finding DefectLeaderHintsMissing. A server that
// sends the address form follows the current contract, so it must also
// send leader-id, leader-addr and the NotLeader detail; any of those a
// server sends must be right. Running it per transport checks that the
// metadata survives each protocol's framing (headers vs trailers vs JSON
// error body).
func caseNotLeader(c *cell) error {
	view, err := c.needView()
	if err != nil {
		return err
	}
	if len(view.GetNodes()) < 2 {
		return skipf("target has %d node; NOT_LEADER needs at least 2", len(view.GetNodes()))
	}
	// Use the current view rather than the run's first one: leaders may
	// have moved on a live cluster.
	view, err = firstView(c.ctx, c.d.to(c.r.target.Addrs[0]), promptly)
	if err != nil {
		return fmt.Errorf("WatchCluster: %s", describe(err))
	}
	addrs := map[string]string{}
	for _, n := range view.GetNodes() {
		addrs[n.GetId()] = n.GetAddr()
	}
	total := len(view.GetShards())
	k := c.key("nl")
	c.cleanupKey(k)
	shard := uint32(routing.Shard(k, total))
	var leader, follower string
	var info *v1.ShardInfo
	for _, s := range view.GetShards() {
		if s.GetId() == shard {
			info = s
		}
	}
	if info == nil {
		return fmt.Errorf("view has no shard %d (of %d)", shard, total)
	}
	for _, r := range info.GetReplicas() {
		if r.GetLeader() {
			leader = r.GetNodeId()
		} else if follower == "" {
			follower = r.GetNodeId()
		}
	}
	if leader == "" {
		return fmt.Errorf("shard %d has no leader in the view", shard)
	}
	if follower == "" {
		// Single replica: any other node is not the leader either.
		for _, n := range view.GetNodes() {
			if n.GetId() != leader {
				follower = n.GetId()
				break
			}
		}
	}
	_, err = c.d.to(addrs[follower]).kv.Put(c.ctx, &v1.PutRequest{Key: k, Value: []byte("v")})
	var p problems
	var ce *connect.Error
	switch {
	case err == nil:
		return fmt.Errorf("put to %s, not the leader (%s) of shard %d: want UNAVAILABLE NOT_LEADER, got OK", follower, leader, shard)
	case !errors.As(err, &ce) || ce.Code() != connect.CodeUnavailable || !strings.HasPrefix(ce.Message(), wire.NotLeaderPrefix):
		return fmt.Errorf("put to %s, not the leader (%s) of shard %d: want UNAVAILABLE \"NOT_LEADER…\", got %s", follower, leader, shard, describe(err))
	}
	form := c.checkHint(&p, err, leader, addrs[leader], fmt.Sprintf("put to %s, not the leader of shard %d", follower, shard))
	// With the address form the server claims the current contract, which
	// sends every pointer; older servers sent some of them.
	full := form == LeaderHintAddress
	if got := ce.Meta().Get(wire.HeaderLeaderID); (full || got != "") && got != leader {
		p.addf("leader-id = %q, want the leader's id %q", got, leader)
	}
	if got := ce.Meta().Get(wire.HeaderLeaderAddr); (full || got != "") && got != addrs[leader] {
		p.addf("leader-addr = %q, want the leader's address %q", got, addrs[leader])
	}
	var detail *v1.NotLeader
	for _, d := range ce.Details() {
		if m, err := d.Value(); err == nil {
			if nl, ok := m.(*v1.NotLeader); ok {
				detail = nl
			}
		}
	}
	switch {
	case detail == nil && full:
		p.addf("no norikv.v1.NotLeader error detail")
	case detail == nil:
	case detail.GetLeaderId() != leader || detail.GetLeaderAddr() != addrs[leader] || detail.GetShard() != shard:
		p.addf("NotLeader detail = {shard %d, %q, %q}, want {shard %d, %q, %q}", detail.GetShard(), detail.GetLeaderId(), detail.GetLeaderAddr(), shard, leader, addrs[leader])
	}
	// The refused write must not have happened.
	g, err := c.d.to(addrs[leader]).kv.Get(c.ctx, &v1.GetRequest{Key: k})
	p.add(c.wantAbsent(g, err, "get on the leader after a refused write"))

	// Reads: lease and linearizable reads need the leader too; stale reads
	// may be served by any replica.
	if _, err := c.d.to(addrs[leader]).kv.Put(c.ctx, &v1.PutRequest{Key: k, Value: []byte("v")}); err != nil {
		return fmt.Errorf("put on the leader: %s", describe(err))
	}
	for _, cons := range []string{"", "strong"} {
		_, err := c.d.to(addrs[follower]).kv.Get(c.ctx, &v1.GetRequest{Key: k, Consistency: cons})
		c.checkHint(&p, err, leader, addrs[leader], fmt.Sprintf("get (consistency %q) on %s, not the leader", cons, follower))
	}
	if isReplica(info, follower) {
		// A follower may lag; give it a moment before calling it wrong.
		var g *v1.GetResponse
		var err error
		for start := time.Now(); time.Since(start) < 2*time.Second; time.Sleep(50 * time.Millisecond) {
			g, err = c.d.to(addrs[follower]).kv.Get(c.ctx, &v1.GetRequest{Key: k, Consistency: "eventual"})
			if err == nil && string(g.GetValue()) == "v" {
				break
			}
		}
		if err != nil || string(g.GetValue()) != "v" {
			p.addf("get (consistency \"eventual\") on replica %s: want the value from any replica, got %s value %q", follower, describe(err), g.GetValue())
		}
	}
	return p.err()
}

// checkHint checks that err is UNAVAILABLE "NOT_LEADER…" whose
// leader-hint names the leader (id, at addr) in either accepted form, and
// records the form. It returns the form, or "" when err is not NOT_LEADER.
func (c *cell) checkHint(p *problems, err error, id, addr, what string) LeaderHintForm {
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeUnavailable || !strings.HasPrefix(ce.Message(), wire.NotLeaderPrefix) {
		p.addf("%s: want UNAVAILABLE \"NOT_LEADER…\" naming %s, got %s", what, id, describe(err))
		return LeaderHintUnseen
	}
	var form LeaderHintForm
	switch hint := ce.Meta().Get(wire.HeaderLeaderHint); hint {
	case addr:
		form = LeaderHintAddress
	case id:
		form = LeaderHintNodeID
	case "":
		form = LeaderHintMissing
		also := ""
		if h, _ := wire.ParseNotLeader(err); h.LeaderID == id || h.LeaderAddr == addr {
			also = " (another header or the NotLeader detail names it, but the upstream SDKs read only leader-hint)"
		}
		p.finding(DefectLeaderHintsMissing, "%s: NOT_LEADER had no leader-hint%s", what, also)
	default:
		p.addf("%s: leader-hint = %q names neither the leader's address %q nor its id %q", what, hint, addr, id)
		return LeaderHintUnseen
	}
	c.r.saw(form)
	return form
}

func isReplica(s *v1.ShardInfo, node string) bool {
	for _, r := range s.GetReplicas() {
		if r.GetNodeId() == node {
			return true
		}
	}
	return false
}

// caseWatch: the first view comes at once from every node and is well
// formed.
func caseWatch(c *cell) error {
	if _, err := c.needView(); err != nil {
		return err
	}
	var p problems
	addrs := slices.Clone(c.r.target.Addrs)
	for _, n := range c.r.view.GetNodes() {
		addrs = append(addrs, n.GetAddr())
	}
	seen := map[string]bool{}
	for _, a := range addrs {
		a = stripScheme(a)
		if seen[a] {
			continue
		}
		seen[a] = true
		start := time.Now()
		v, err := firstView(c.ctx, c.d.to(a), promptly)
		if err != nil {
			p.addf("WatchCluster on %s: no first view within %s: %s", a, promptly, describe(err))
			continue
		}
		if err := checkView(v, c.r.target.TotalShards); err != nil {
			p.addf("first view from %s (after %s): %v", a, time.Since(start).Round(time.Millisecond), err)
		}
	}
	return p.err()
}

// checkView checks the invariants of any cluster view.
func checkView(v *v1.ClusterView, wantShards int) error {
	var p problems
	if v.GetEpoch() == 0 {
		p.addf("epoch is 0, want > 0")
	}
	if len(v.GetNodes()) == 0 {
		p.addf("no nodes")
	}
	nodes := map[string]bool{}
	for i, n := range v.GetNodes() {
		if n.GetId() == "" || n.GetAddr() == "" || n.GetRole() == "" {
			p.addf("node %d = {id %q, addr %q, role %q}: id, addr and role must be set", i, n.GetId(), n.GetAddr(), n.GetRole())
		}
		if nodes[n.GetId()] {
			p.addf("node id %q listed twice", n.GetId())
		}
		nodes[n.GetId()] = true
	}
	if len(v.GetShards()) == 0 {
		p.addf("no shards")
	}
	if wantShards > 0 && len(v.GetShards()) != wantShards {
		p.addf("%d shards, the target is configured with %d", len(v.GetShards()), wantShards)
	}
	ids := map[uint32]bool{}
	for _, s := range v.GetShards() {
		if ids[s.GetId()] {
			p.addf("shard %d listed twice", s.GetId())
		}
		ids[s.GetId()] = true
		if int(s.GetId()) >= len(v.GetShards()) {
			p.addf("shard id %d out of range [0, %d)", s.GetId(), len(v.GetShards()))
		}
		leaders := 0
		for _, r := range s.GetReplicas() {
			if !nodes[r.GetNodeId()] {
				p.addf("shard %d: replica on unknown node %q", s.GetId(), r.GetNodeId())
			}
			if r.GetLeader() {
				leaders++
			}
		}
		if len(s.GetReplicas()) == 0 {
			p.addf("shard %d has no replica", s.GetId())
		}
		if leaders != 1 {
			p.addf("shard %d has %d leaders, want exactly 1", s.GetId(), leaders)
		}
		if len(p.lines) > 8 {
			p.addf("(further problems not listed)")
			break
		}
	}
	return p.err()
}

// caseTopology: Admin.TransferShard moves a leader, its reply says so, and
// a watcher sees a view with a higher epoch that reflects the move. It
// changes the cluster, so it needs the run's permission.
func caseTopology(c *cell) error {
	if !c.r.target.AllowTopologyChanges {
		return skipf("topology changes not allowed (Target.AllowTopologyChanges is off)")
	}
	if _, err := c.needView(); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(c.ctx)
	defer cancel()
	stream, err := c.d.to(c.r.target.Addrs[0]).meta.WatchCluster(ctx, &v1.ClusterView{})
	if err != nil {
		return fmt.Errorf("WatchCluster: %s", describe(err))
	}
	defer stream.Close()
	if !stream.Receive() {
		return fmt.Errorf("WatchCluster: no first view: %s", describe(stream.Err()))
	}
	before := stream.Msg()
	addrs := map[string]string{}
	for _, n := range before.GetNodes() {
		addrs[n.GetId()] = n.GetAddr()
	}
	// Any shard with two replicas will do; start at a random-ish one so
	// transports do not all move the same shard.
	var shard *v1.ShardInfo
	var from, to string
	shards := before.GetShards()
	off := int(routing.Hash([]byte(c.tag)) % uint64(max(len(shards), 1)))
	for i := range shards {
		s := shards[(i+off)%len(shards)]
		from, to = "", ""
		for _, r := range s.GetReplicas() {
			if r.GetLeader() {
				from = r.GetNodeId()
			} else if to == "" {
				to = r.GetNodeId()
			}
		}
		if from != "" && to != "" {
			shard = s
			break
		}
	}
	if shard == nil {
		return skipf("no shard has two replicas; a leader cannot move")
	}
	// A write before and after the move: the term must grow with it.
	var probe []byte
	for i := 0; probe == nil; i++ {
		if k := c.key(fmt.Sprintf("term-%d", i)); routing.Shard(k, len(shards)) == int(shard.GetId()) {
			probe = k
		}
	}
	c.cleanupKey(probe)
	r1, err := c.d.to(addrs[from]).kv.Put(c.ctx, &v1.PutRequest{Key: probe, Value: []byte("before")})
	if err != nil {
		return fmt.Errorf("put on shard %d's leader %s: %s", shard.GetId(), from, describe(err))
	}

	req := &v1.ShardInfo{Id: shard.GetId(), Replicas: []*v1.ShardReplica{{NodeId: to, Leader: true}}}
	got, err := c.d.to(addrs[from]).admin.TransferShard(c.ctx, req)
	if isUnimplemented(err) {
		return skipf("target does not implement norikv.v1.Admin (UNIMPLEMENTED)")
	}
	if err != nil {
		return fmt.Errorf("TransferShard(shard %d → %s): %s", shard.GetId(), to, describe(err))
	}
	// Leave the cluster as found (it may be a shared one): move it back.
	c.onCleanup(func(ctx context.Context) {
		back := &v1.ShardInfo{Id: shard.GetId(), Replicas: []*v1.ShardReplica{{NodeId: from, Leader: true}}}
		_, _ = c.d.to(addrs[to]).admin.TransferShard(ctx, back)
		c.r.learn(&v1.ClusterView{Shards: []*v1.ShardInfo{back}})
	})
	var p problems
	r2, err := c.d.to(addrs[to]).kv.Put(c.ctx, &v1.PutRequest{Key: probe, Value: []byte("after")})
	switch {
	case err != nil:
		p.addf("put on the new leader %s after the transfer: %s", to, describe(err))
	case r2.GetVersion().GetTerm() <= r1.GetVersion().GetTerm() || r2.GetVersion().GetIndex() <= r1.GetVersion().GetIndex():
		p.addf("write after the transfer has version %s, want a higher term and index than %s before it", fmtVersion(r2.GetVersion()), fmtVersion(r1.GetVersion()))
	}
	_, err = c.d.to(addrs[from]).kv.Put(c.ctx, &v1.PutRequest{Key: probe, Value: []byte("stale")})
	c.checkHint(&p, err, to, addrs[to], fmt.Sprintf("put on the old leader %s after the transfer", from))
	if l := leaderOf(got); l != to {
		p.addf("TransferShard reply names leader %q, want %q", l, to)
	}
	// Read views until one reflects the move. A slow reader may see only
	// the latest view, so any view with the new leader and a higher epoch
	// passes.
	deadline := time.AfterFunc(5*time.Second, cancel)
	defer deadline.Stop()
	for {
		if !stream.Receive() {
			p.addf("no view with shard %d led by %s and epoch > %d arrived within 5 s: %s", shard.GetId(), to, before.GetEpoch(), describe(stream.Err()))
			break
		}
		v := stream.Msg()
		if v.GetEpoch() <= before.GetEpoch() {
			p.addf("view after the transfer has epoch %d, not above %d", v.GetEpoch(), before.GetEpoch())
			break
		}
		var now *v1.ShardInfo
		for _, s := range v.GetShards() {
			if s.GetId() == shard.GetId() {
				now = s
			}
		}
		if leaderOf(now) == to {
			p.add(checkView(v, 0))
			break
		}
	}
	c.r.learn(&v1.ClusterView{Shards: []*v1.ShardInfo{{Id: shard.GetId(), Replicas: []*v1.ShardReplica{{NodeId: to, Leader: true}}}}})
	return p.err()
}

func leaderOf(s *v1.ShardInfo) string {
	for _, r := range s.GetReplicas() {
		if r.GetLeader() {
			return r.GetNodeId()
		}
	}
	return ""
}
