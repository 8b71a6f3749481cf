package server

import (
	"context"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// metaService serves norikv.v1.Meta on one node.
type metaService struct {
	c *Cluster
	n *node
}

// WatchCluster sends the current view, then the latest view after each
// change, until the client goes away, the node stops or the cluster closes.
// It never holds up a topology change: a slow stream skips to the newest
// view.
func (h *metaService) WatchCluster(ctx context.Context, _ *v1.ClusterView, stream *connect.ServerStream[v1.ClusterView]) error {
	stopped := h.n.stopped()
	var sent uint64
	for {
		st := h.c.views.load()
		if st.view.Epoch > sent {
			if err := stream.Send(st.view); err != nil {
				return err
			}
			sent = st.view.Epoch
		}
		select {
		case <-st.changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-stopped:
			return nil
		case <-h.c.done:
			return nil
		}
	}
}
