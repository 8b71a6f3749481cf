package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	norikv "github.com/norikv/norikv-go/client"
)

func init() {
	register(&command{Name: "watch", Summary: "print cluster topology changes as they happen", Run: runWatch})
}

const watchExamples = `  norikv watch
      one line per change of cluster view, until Ctrl-C; the first line is the
      view as found (epoch 0 -> N, every node added). When the cluster goes
      away (e.g. "norikv serve" stopped) it says so on stderr, keeps trying
      and says when it has reconnected; a cluster that came back as a new
      one (an in-memory "norikv serve" started again) is followed from its
      first view, on a line that says "cluster restarted"
  norikv watch --count 1
      print the view as found, then stop after the next change
  norikv watch --json
      one JSON object per event; the first has "initial":true and counts the
      shards each node leads ("leaders_per_node") instead of listing every
      shard: 'norikv cluster --json' prints the whole view
`

// maxLeaderLines bounds the leader moves printed per event: a node stop
// can move hundreds, and one line per event must stay readable.
const maxLeaderLines = 4

func runWatch(ctx context.Context, o IO, args []string) error {
	fs := newFlagSet(o, "watch", "[flags]", watchExamples)
	cf := addClientFlags(fs)
	count := fs.Int("count", 0, "exit after `N` changes, not counting the first line (the view as found); 0: run until interrupted")
	pos, err := fs.parseInterspersed(args)
	if err != nil {
		return err
	}
	if err := wantArgs(pos); err != nil {
		return err
	}
	if *count < 0 {
		return usagef("--count must not be negative")
	}
	c, err := cf.dialWatch(ctx, fs, true)
	if err != nil {
		return err
	}
	defer c.Close()

	// The callback only hands events over; printing happens here, so
	// output and the --count check stay on one goroutine.
	events := make(chan norikv.TopologyEvent, 64)
	unsubscribe := c.OnTopologyChange(func(e norikv.TopologyEvent) {
		select {
		case events <- e:
		case <-ctx.Done():
		}
	})
	defer unsubscribe()
	// dial already fetched the view, before we subscribed: print it as the
	// first event, then only later epochs.
	v := c.ClusterView()
	if v == nil {
		return fmt.Errorf("the cluster does not serve Meta: there are no topology events to watch")
	}
	if err := printInitial(o.Stdout, v, cf.json); err != nil {
		return err
	}
	// The SDK reconnects on its own; polling whether its stream is open
	// is how this command tells the user that the cluster went away (a
	// killed "norikv serve") and that it is back. The stream must stay
	// closed for lostAfter polls: the SDK also restarts it on purpose
	// (a refresh), which is no news, and in a shorter blip no event is
	// missed anyway.
	tick := time.NewTicker(watchPoll)
	defer tick.Stop()
	closedPolls, lost := 0, false
	last := v.Epoch
	for n := 0; *count == 0 || n < *count; {
		select {
		case <-ctx.Done():
			return nil // interrupted: a normal way to stop watching
		case <-tick.C:
			if c.Stats().Topology.Watching {
				closedPolls = 0
				if lost {
					lost = false
					watchStatus(o.Stderr, "reconnected")
				}
			} else if closedPolls++; closedPolls == lostAfter {
				lost = true
				watchStatus(o.Stderr, "lost the cluster: the watch stream ended; reconnecting (Ctrl-C to stop)")
			}
		case e := <-events:
			if e.CurrentEpoch <= last && !e.Restarted {
				continue // already shown in the first line
			}
			last = e.CurrentEpoch
			if err := printEvent(o.Stdout, e, cf.json); err != nil {
				return err
			}
			n++
		}
	}
	return nil
}

// watchPoll is how often watch checks that its stream is open; lostAfter
// polls closed in a row mean the cluster is gone.
const (
	watchPoll = 100 * time.Millisecond
	lostAfter = 3
)

// watchStatus reports the stream's state on stderr, keeping stdout for
// events (and --json lines).
func watchStatus(w io.Writer, msg string) {
	fmt.Fprintf(w, "norikv watch: %s %s\n", time.Now().Format("15:04:05.000"), msg)
}

// printInitial prints the view as found, the first line. Its leaders are
// counted per node, not listed per shard: a 1024-shard cluster's list made
// a 30 KB line that said nothing a person reads ('norikv cluster' lists
// them).
func printInitial(w io.Writer, v *norikv.ClusterView, asJSON bool) error {
	nodes := make([]string, 0, len(v.Nodes))
	for _, n := range v.Nodes {
		nodes = append(nodes, n.ID)
	}
	perNode := map[string]int{}
	leaders := 0
	for _, s := range v.Shards {
		for _, r := range s.Replicas {
			if r.Leader {
				perNode[r.NodeID]++
				leaders++
			}
		}
	}
	if asJSON {
		return printJSON(w, struct {
			Initial        bool           `json:"initial"`
			PreviousEpoch  uint64         `json:"previous_epoch"`
			CurrentEpoch   uint64         `json:"current_epoch"`
			Incarnation    string         `json:"incarnation,omitempty"`
			AddedNodes     []string       `json:"added_nodes"`
			RemovedNodes   []string       `json:"removed_nodes"`
			Shards         int            `json:"shards"`
			LeadersPerNode map[string]int `json:"leaders_per_node"`
		}{true, 0, v.Epoch, v.Incarnation, nodes, []string{}, len(v.Shards), perNode})
	}
	_, err := fmt.Fprintf(w, "%s epoch 0 -> %d (initial view); nodes: %s; %d shard leaders\n",
		time.Now().Format("15:04:05.000"), v.Epoch, strings.Join(nodes, " "), leaders)
	return err
}

func printEvent(w io.Writer, e norikv.TopologyEvent, asJSON bool) error {
	if asJSON {
		type leaderChange struct {
			Shard    uint32 `json:"shard"`
			Previous string `json:"previous"`
			Current  string `json:"current"`
		}
		out := struct {
			PreviousEpoch uint64         `json:"previous_epoch"`
			CurrentEpoch  uint64         `json:"current_epoch"`
			Restarted     bool           `json:"restarted,omitempty"`
			AddedNodes    []string       `json:"added_nodes"`
			RemovedNodes  []string       `json:"removed_nodes"`
			LeaderChanges []leaderChange `json:"leader_changes"`
		}{e.PreviousEpoch, e.CurrentEpoch, e.Restarted, orEmpty(e.AddedNodes), orEmpty(e.RemovedNodes), []leaderChange{}}
		for _, lc := range e.LeaderChanges {
			out.LeaderChanges = append(out.LeaderChanges, leaderChange(lc))
		}
		return printJSON(w, out)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s epoch %d -> %d", time.Now().Format("15:04:05.000"), e.PreviousEpoch, e.CurrentEpoch)
	if e.Restarted {
		b.WriteString(" (cluster restarted: a new cluster, its epochs start over)")
	}
	if len(e.AddedNodes) > 0 {
		fmt.Fprintf(&b, "; nodes added: %s", strings.Join(e.AddedNodes, " "))
	}
	if len(e.RemovedNodes) > 0 {
		fmt.Fprintf(&b, "; nodes removed: %s", strings.Join(e.RemovedNodes, " "))
	}
	if n := len(e.LeaderChanges); n > 0 {
		fmt.Fprintf(&b, "; %d leader change(s):", n)
		for i, lc := range e.LeaderChanges {
			if i == maxLeaderLines {
				fmt.Fprintf(&b, " ... and %d more", n-i)
				break
			}
			fmt.Fprintf(&b, " shard %d %s->%s", lc.Shard, orNone(lc.Previous), orNone(lc.Current))
		}
	}
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(id string) string {
	if id == "" {
		return "none"
	}
	return id
}
