package topology

import (
	"slices"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Which view wins. A view's epoch only grows within one incarnation of
// the cluster (ClusterView.incarnation): a cluster that restarts with its
// epoch (durable mode) keeps its incarnation, one that starts over (a new
// in-memory cluster, or one that lost its epoch) takes a new one. So:
//
//   - same incarnation: the higher epoch wins; an older or equal view is
//     ignored, from whichever node it comes;
//   - another incarnation: the cluster restarted (or the client now talks
//     to another cluster): the view is adopted whatever its epoch, and the
//     incarnation left behind is never adopted again (retired), so a
//     straggling node of the old cluster cannot take the client back;
//   - a view without an incarnation (a server that predates the field, like
//     the Rust server) or a current view without one: a higher epoch wins;
//     a lower one is ambiguous, a node lagging behind or a cluster that
//     restarted and lost its epoch. It is adopted only once the watch
//     stream has held it for Config.EpochDropGrace with nothing newer: a
//     lagging node catches up and sends a newer view well within that, a
//     restarted cluster does not.

// verdict is how a view compares with the current one.
type verdict uint8

const (
	older     verdict = iota // not newer, same incarnation: ignored
	newer                    // a higher epoch: adopted
	restarted                // another incarnation: adopted
	unsure                   // a lower epoch and no incarnation to tell why
)

// maxRetired bounds the incarnations remembered as left behind.
const maxRetired = 16

// judge compares v with cur (nil before the first view). retired holds
// the incarnations the client has left.
func judge(cur, v *v1.ClusterView, retired []string) verdict {
	if cur == nil {
		return newer
	}
	ci, vi := cur.GetIncarnation(), v.GetIncarnation()
	switch {
	case ci != "" && vi != "" && ci != vi:
		if slices.Contains(retired, vi) {
			return older
		}
		return restarted
	case v.GetEpoch() > cur.GetEpoch():
		return newer
	case ci != "" && vi != "", v.GetEpoch() == cur.GetEpoch():
		return older
	default:
		return unsure
	}
}

// offer installs v if it wins over the current view (see judge), or
// unconditionally with force, which the watcher uses for an unsure view
// its stream held for EpochDropGrace. It publishes the event and returns
// the verdict.
func (m *Manager) offer(v *v1.ClusterView, force bool) verdict {
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	cur := m.View()
	verdict := judge(cur, v, m.retired)
	switch {
	case verdict == newer || verdict == restarted:
	case force && verdict == unsure:
		verdict = restarted
	default:
		return verdict
	}
	if verdict == restarted {
		m.log.Info("norikv: the cluster restarted (a new incarnation): adopting its view",
			"previous_incarnation", cur.GetIncarnation(), "previous_epoch", cur.GetEpoch(),
			"incarnation", v.GetIncarnation(), "epoch", v.GetEpoch())
		if ci := cur.GetIncarnation(); ci != "" && ci != v.GetIncarnation() {
			if len(m.retired) == maxRetired {
				m.retired = m.retired[1:]
			}
			m.retired = append(m.retired, ci)
		}
	}
	old, snap := m.install(v)
	m.w.markReady()
	ev := diff(old, snap)
	ev.Restarted = verdict == restarted
	m.publish(ev)
	return verdict
}
