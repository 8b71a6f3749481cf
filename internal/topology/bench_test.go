package topology

import "testing"

// BenchmarkRoute is the routing hot path: a leader-bound lookup and a
// stale read, after a view.
func BenchmarkRoute(b *testing.B) {
	m := New(Config{Seeds: []string{"s:1"}, TotalShards: 4})
	defer m.Close()
	m.Apply(view(1, "a", "b", "c", "a"))
	b.ReportAllocs()
	for b.Loop() {
		_ = m.Route(2, true)
		_ = m.Route(1, false)
	}
}
