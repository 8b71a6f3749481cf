package reliability

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"
)

// runFaults injects one fault every interval, round robin over the kinds,
// until ctx ends, and returns what it injected. hotShards are the shards
// the workload uses, so leader transfers hit traffic. A stopped node is
// restarted on the next tick, so at most one node is down at a time (with
// three replicas every shard keeps a leader).
func (e *faultEnv) runFaults(ctx context.Context, t testing.TB, interval time.Duration, hotShards []uint32, seed uint64) faultCounts {
	rng := rand.New(rand.NewPCG(seed, 1))
	ids := e.cluster.NodeIDs()
	var n faultCounts
	var down string
	slow := ""
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return n
		case <-tick.C:
		}
		if down != "" {
			if err := e.cluster.RestartNode(down); err != nil {
				t.Errorf("restart %s: %v", down, err)
			}
			n.Restarts++
			down = ""
		}
		if slow != "" {
			e.proxies[slow].SetLatency(0)
			slow = ""
		}
		switch i % 4 {
		case 0: // move a hot shard's leadership to another replica
			shard := hotShards[rng.IntN(len(hotShards))]
			cur := e.cluster.Leader(shard)
			for _, id := range ids {
				if id != cur {
					if err := e.cluster.TransferLeader(shard, id); err == nil {
						n.Transfers++
					}
					break
				}
			}
		case 1: // crash a node; it comes back next tick
			down = ids[rng.IntN(len(ids))]
			if err := e.cluster.StopNode(down); err != nil {
				t.Errorf("stop %s: %v", down, err)
			}
			n.Stops++
		case 2: // reset every connection to a node
			e.proxies[ids[rng.IntN(len(ids))]].Reset()
			n.Resets++
		case 3: // one slow node for a tick
			slow = ids[rng.IntN(len(ids))]
			e.proxies[slow].SetLatency(time.Duration(5+rng.IntN(25)) * time.Millisecond)
			n.LatencySpells++
		}
	}
}
