package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"

	norikv "github.com/norikv/norikv-go/client"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

func init() {
	register(&command{Name: "cluster", Summary: "show nodes and which shards each leads", Run: runCluster})
}

const clusterExamples = `  norikv cluster transfer --shard 17 --to n2
      move shard 17's leadership to n2 (see 'norikv cluster transfer --help')
  norikv cluster
      one row per node: shards led and replicated (1024 shards summarised)
  norikv cluster --shard 17
      shard 17's leader and replicas
  norikv cluster --key user:alice
      the shard that owns user:alice, its leader and replicas
  norikv cluster --json
      the whole view: nodes and every shard's replicas
`

func runCluster(ctx context.Context, o IO, args []string) error {
	if len(args) > 0 && args[0] == "transfer" {
		return runTransfer(ctx, o, args[1:])
	}
	fs := newFlagSet(o, "cluster", "[transfer] [flags]", clusterExamples)
	cf := addClientFlags(fs)
	shard := shardFlag(fs, "show this shard `N` only")
	key := fs.String("key", "", "show the shard that owns this `key`")
	pos, err := fs.parseInterspersed(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	if *shard >= 0 && *key != "" {
		return usagef("--shard and --key are exclusive")
	}
	c, err := cf.dial(ctx, fs)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.Connect(ctx); err != nil {
		return err
	}
	v := c.ClusterView()
	if v == nil {
		return errors.New("the cluster does not serve Meta, so it has no view to show")
	}
	if *key != "" {
		*shard = c.ShardForKey(*key)
	}
	if *shard >= 0 {
		i := slices.IndexFunc(v.Shards, func(s norikv.ShardInfo) bool { return int(s.ID) == *shard })
		if i < 0 {
			return usagef("no shard %d (the cluster has %d)", *shard, len(v.Shards))
		}
		return printShard(o.Stdout, v, v.Shards[i], *key, cf.json)
	}
	if cf.json {
		return printJSON(o.Stdout, viewJSON(v))
	}
	return printNodeTable(o.Stdout, v)
}

// printNodeTable summarises the view per node: with 1024 shards a row per
// shard would bury what matters, which is how leadership is balanced.
func printNodeTable(w io.Writer, v *norikv.ClusterView) error {
	leads := map[string]int{}
	replicas := map[string]int{}
	leaderless := 0
	for _, s := range v.Shards {
		led := false
		for _, r := range s.Replicas {
			replicas[r.NodeID]++
			if r.Leader {
				leads[r.NodeID]++
				led = true
			}
		}
		if !led {
			leaderless++
		}
	}
	fmt.Fprintf(w, "epoch %d, %d nodes, %d shards", v.Epoch, len(v.Nodes), len(v.Shards))
	if leaderless > 0 {
		fmt.Fprintf(w, ", %d WITHOUT A LEADER", leaderless)
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tADDRESS\tROLE\tLEADS\tREPLICAS")
	for _, n := range v.Nodes {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\n", n.ID, n.Addr, n.Role, leads[n.ID], replicas[n.ID])
	}
	return tw.Flush()
}

func printShard(w io.Writer, v *norikv.ClusterView, s norikv.ShardInfo, key string, asJSON bool) error {
	addr := map[string]string{}
	for _, n := range v.Nodes {
		addr[n.ID] = n.Addr
	}
	leader := ""
	ids := make([]string, 0, len(s.Replicas))
	for _, r := range s.Replicas {
		ids = append(ids, r.NodeID)
		if r.Leader {
			leader = r.NodeID
		}
	}
	if asJSON {
		return printJSON(w, struct {
			Epoch    uint64   `json:"epoch"`
			Key      string   `json:"key,omitempty"`
			Shard    uint32   `json:"shard"`
			Leader   string   `json:"leader"`
			Addr     string   `json:"leader_addr"`
			Replicas []string `json:"replicas"`
		}{v.Epoch, key, s.ID, leader, addr[leader], orEmpty(ids)})
	}
	if key != "" {
		fmt.Fprintf(w, "key %q is in shard %d\n", key, s.ID)
	}
	if leader == "" {
		fmt.Fprintf(w, "shard %d: NO LEADER\n", s.ID)
	} else {
		fmt.Fprintf(w, "shard %d: leader %s (%s)\n", s.ID, leader, addr[leader])
	}
	_, err := fmt.Fprintf(w, "replicas: %s\n", strings.Join(ids, " "))
	return err
}

// viewJSON is the view with snake_case keys, like every other --json output.
func viewJSON(v *norikv.ClusterView) any {
	type node struct {
		ID   string `json:"id"`
		Addr string `json:"addr"`
		Role string `json:"role"`
	}
	type shard struct {
		ID       uint32   `json:"id"`
		Leader   string   `json:"leader"`
		Replicas []string `json:"replicas"`
	}
	out := struct {
		Epoch  uint64  `json:"epoch"`
		Nodes  []node  `json:"nodes"`
		Shards []shard `json:"shards"`
	}{Epoch: v.Epoch, Nodes: []node{}, Shards: []shard{}}
	for _, n := range v.Nodes {
		out.Nodes = append(out.Nodes, node(n))
	}
	for _, s := range v.Shards {
		sh := shard{ID: s.ID, Replicas: []string{}}
		for _, r := range s.Replicas {
			sh.Replicas = append(sh.Replicas, r.NodeID)
			if r.Leader {
				sh.Leader = r.NodeID
			}
		}
		out.Shards = append(out.Shards, sh)
	}
	return out
}

const transferExamples = `  norikv cluster transfer --shard 17 --to n2
      make n2 lead shard 17; n2 must hold one of its replicas and be up
      (see them with 'norikv cluster --shard 17')
  norikv cluster transfer --key user:alice --to n3 --json
      make n3 lead the shard that owns user:alice
`

// runTransfer is "norikv cluster transfer": Admin.TransferShard, which
// any node serves. The shard's term and the cluster's epoch grow, so
// "norikv watch" shows the move.
func runTransfer(ctx context.Context, o IO, args []string) error {
	fs := newFlagSet(o, "cluster transfer", "--shard N|--key K --to NODE [flags]", transferExamples)
	cf := addClientFlags(fs)
	shard := shardFlag(fs, "move this shard `N`")
	key := fs.String("key", "", "move the shard that owns this `key`")
	to := fs.String("to", "", "the node `id` that is to lead the shard, e.g. n2")
	pos, err := fs.parseInterspersed(args)
	if err != nil {
		return err
	}
	switch err := wantArgs(pos); {
	case err != nil:
		return err
	case *to == "":
		return usagef("missing --to (the node that is to lead the shard, e.g. --to n2)")
	case *shard >= 0 && *key != "":
		return usagef("--shard and --key are exclusive")
	case *shard < 0 && *key == "":
		return usagef("say which shard: --shard N or --key K")
	}
	c, err := cf.dial(ctx, fs)
	if err != nil {
		return err
	}
	defer c.Close()
	v := c.ClusterView()
	if v == nil {
		return errors.New("the cluster does not serve Meta, so its shards and nodes are unknown")
	}
	if *key != "" {
		*shard = c.ShardForKey(*key)
	}
	i := slices.IndexFunc(v.Shards, func(s norikv.ShardInfo) bool { return int(s.ID) == *shard })
	if i < 0 {
		return usagef("no shard %d (the cluster has %d)", *shard, len(v.Shards))
	}
	if !slices.ContainsFunc(v.Nodes, func(n norikv.ClusterNode) bool { return n.ID == *to }) {
		ids := make([]string, len(v.Nodes))
		for i, n := range v.Nodes {
			ids[i] = n.ID
		}
		return usagef("no node %q (nodes: %s)", *to, strings.Join(ids, " "))
	}
	previous := shardLeader(v.Shards[i])
	var info *v1.ShardInfo
	err = cf.admin(ctx, func(ctx context.Context, a norikvv1connect.AdminClient) error {
		info, err = a.TransferShard(ctx, &v1.ShardInfo{
			Id:       uint32(*shard),
			Replicas: []*v1.ShardReplica{{NodeId: *to, Leader: true}},
		})
		return err
	})
	if e, ok := errors.AsType[*norikv.Error](err); ok {
		// Exit status 1 whatever the code: FAILED_PRECONDITION (a node
		// that is down) is no version mismatch here.
		return statusError{exitError, "transfer refused: " + withoutOperation(e)}
	}
	if err != nil {
		return err
	}
	leader := ""
	for _, r := range info.GetReplicas() {
		if r.GetLeader() {
			leader = r.GetNodeId()
		}
	}
	if cf.json {
		return printJSON(o.Stdout, struct {
			Key      string `json:"key,omitempty"`
			Shard    uint32 `json:"shard"`
			Previous string `json:"previous"`
			Leader   string `json:"leader"`
			Moved    bool   `json:"moved"`
		}{*key, info.GetId(), previous, leader, previous != leader})
	}
	if previous == leader {
		_, err = fmt.Fprintf(o.Stdout, "shard %d: %s already leads it\n", info.GetId(), leader)
		return err
	}
	_, err = fmt.Fprintf(o.Stdout, "shard %d: leader %s -> %s\n", info.GetId(), orNone(previous), leader)
	return err
}

// shardFlag defines --shard: -1 until given (help shows no default, as
// there is none), and only a shard number is accepted.
func shardFlag(fs *flagSet, usage string) *int {
	shard := -1
	fs.Func("shard", usage, func(s string) error {
		n, err := strconv.ParseUint(s, 10, 31)
		if err != nil {
			return errors.New("want a shard number, 0 or more")
		}
		shard = int(n)
		return nil
	})
	return &shard
}

// shardLeader is the node id of s's leader, "" if it has none.
func shardLeader(s norikv.ShardInfo) string {
	for _, r := range s.Replicas {
		if r.Leader {
			return r.NodeID
		}
	}
	return ""
}
