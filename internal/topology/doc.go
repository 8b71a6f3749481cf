// Package topology keeps one client's picture of a NoriKV cluster: the
// latest ClusterView behind an atomic pointer, a shard → leader cache that
// NOT_LEADER hints correct between views, and a background watch on
// Meta.WatchCluster that reconnects with backoff over the seed nodes.
//
// The routing hot path (Manager.Route) takes no locks and does not
// allocate: it loads a few atomic pointers per lookup. Everything that
// changes the picture (a new view, a hint, an unreachable or suspect
// node) goes through the slow path.
//
// Trust: a NOT_LEADER hint is followed only to a seed or a node of the
// view. Liveness: before the first view every seed is asked at once, so
// a hung seed costs nothing; a node that times out is suspect, tried last
// until it answers. Shard count: configured, or learnt from the first
// view (Shards waits for it), and checked against every view.
package topology
