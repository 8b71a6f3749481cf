// Package topology keeps one client's picture of a NoriKV cluster, in two
// halves. The Router maps view → shard → node: the latest ClusterView
// behind an atomic pointer, a shard → leader cache that NOT_LEADER hints
// correct between views, and the nodes found unreachable or suspect. It
// is the client's one home for the reaction to a NOT_LEADER reply
// (Router.NotLeader). The watcher keeps the view fresh: a background
// watch on Meta.WatchCluster that reconnects under its own backoff policy
// (backoff.WatchReconnect) over the seeds and the view's nodes. Manager
// joins the two and publishes topology events.
//
// The routing hot path (Router.Route) takes no locks and does not
// allocate: it loads a few atomic pointers per lookup. Everything that
// changes the picture (a new view, a hint, an unreachable or suspect
// node) goes through the slow path.
//
// Views: epochs compare only within one incarnation of the cluster
// (ClusterView.incarnation); a restarted cluster's view is adopted
// whatever its epoch, an older view of the same one never (accept.go).
//
// Trust: a NOT_LEADER hint is followed only to a seed or a node of the
// view. Liveness: before the first view every seed is asked at once, so
// a hung seed costs nothing; a node that times out is suspect, tried last
// until it answers. Shard count: configured, or learnt from the first
// view (Shards waits for it), and checked against every view.
package topology
