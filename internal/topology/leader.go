package topology

// Leader returns the address Route would pick for a leader-bound request
// to shard when the shard's leader is known and not suspect, without
// Route's side effects (it advances round-robin rotations). ok is false
// otherwise. The client's natural batching groups calls by it.
func (r *Router) Leader(shard int) (addr string, ok bool) {
	lp := r.slot(shard)
	if lp == nil {
		return "", false
	}
	l := lp.Load()
	if l == nil || r.isSuspect(l.addr) {
		return "", false
	}
	return l.addr, true
}
