// Package topology keeps one client's picture of a NoriKV cluster: the
// latest ClusterView behind an atomic pointer, a shard → leader cache that
// NOT_LEADER hints correct between views, and a background watch on
// Meta.WatchCluster that reconnects with backoff over the seed nodes.
//
// The routing hot path (Manager.Route) takes no locks and does not
// allocate: it loads one atomic pointer per lookup. Everything that
// changes the picture (a new view, a hint, an unreachable node) goes
// through the slow path.
package topology
