package topology

import (
	"strings"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// roleDown is the role a view gives a node that is stopped or unreachable
// from the cluster's side.
const roleDown = "down"

// skipDownReplicas drops from each shard's replicas (where stale reads go)
// the nodes v marks down, unless all of a shard's replicas are: then the
// list stays, since trying a node the view may be wrong about beats having
// nowhere to send the read. Apply calls it before publishing s.
func skipDownReplicas(v *v1.ClusterView, s *snapshot) {
	var down map[string]bool
	for _, n := range v.GetNodes() {
		if strings.EqualFold(n.GetRole(), roleDown) {
			if down == nil {
				down = map[string]bool{}
			}
			down[n.GetAddr()] = true
		}
	}
	if down == nil {
		return
	}
	for i, rs := range s.replicas {
		var up []string
		for _, a := range rs {
			if !down[a] {
				up = append(up, a)
			}
		}
		if len(up) > 0 {
			s.replicas[i] = up
		}
	}
}
