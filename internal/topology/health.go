package topology

import "time"

// Suspect records that addr took too long to answer (an attempt or a
// watch stream timed out on it) while serving shard (-1 if none). Unlike
// an unreachable node, which is skipped for DownFor, a suspect node stays
// last in every choice until it answers again (Answered): a node that
// accepts connections and never replies costs one timeout, not one per
// call. It is forgotten as the shard's leader.
func (m *Manager) Suspect(shard int, addr string) {
	if _, loaded := m.suspect.LoadOrStore(addr, struct{}{}); !loaded {
		m.nSuspect.Add(1)
		m.log.Debug("norikv: node suspect: it did not answer in time", "addr", addr)
	}
	m.forgetLeader(shard, addr)
}

// forgetLeader drops addr as shard's cached leader, if it is.
func (m *Manager) forgetLeader(shard int, addr string) {
	if lp := m.slot(shard); lp != nil {
		if l := lp.Load(); l != nil && l.addr == addr {
			lp.CompareAndSwap(l, nil)
		}
	}
}

// Answered records that addr answered (any reply, error replies too), so
// it is no longer suspect. It costs one atomic load while no node is
// suspect.
func (m *Manager) Answered(addr string) {
	if m.nSuspect.Load() == 0 {
		return
	}
	if _, ok := m.suspect.LoadAndDelete(addr); ok {
		m.nSuspect.Add(-1)
		m.log.Debug("norikv: suspect node answered", "addr", addr)
	}
}

// isSuspect reports whether addr is suspect, without a map lookup while
// none is.
func (m *Manager) isSuspect(addr string) bool {
	if m.nSuspect.Load() == 0 {
		return false
	}
	_, ok := m.suspect.Load(addr)
	return ok
}

// isDown reports whether addr is inside its DownFor window, forgetting
// windows that ended. now is read once per pick, lazily.
func (m *Manager) isDown(addr string, now *int64) bool {
	until, ok := m.down.Load(addr)
	if !ok {
		return false
	}
	if *now == 0 {
		*now = time.Now().UnixNano()
	}
	if until.(int64) < *now {
		m.down.Delete(addr)
		return false
	}
	return true
}

// pick returns the next address of addrs round-robin, preferring ones
// neither recently unreachable nor suspect; then a suspect one that is not
// down; then, if all are down, the next one anyway.
func (m *Manager) pick(addrs []string) string {
	n := uint32(len(addrs))
	start := m.rr.Add(1)
	now := int64(0)
	fallback := ""
	for i := range n {
		a := addrs[(start+i)%n]
		if m.isDown(a, &now) {
			continue
		}
		if !m.isSuspect(a) {
			return a
		}
		if fallback == "" {
			fallback = a
		}
	}
	if fallback != "" {
		return fallback
	}
	return addrs[start%n]
}
