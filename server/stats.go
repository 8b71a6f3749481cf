package server

// Stats counts what a cluster has applied since Start. Replays of a write
// by its idempotency key are counted in IdempotentReplays, never as
// applies, so a test can check that a retried write was applied once.
type Stats struct {
	Puts              uint64 // Kv.Put applied
	Deletes           uint64 // Kv.Delete applied
	VectorCreates     uint64 // Vector.CreateIndex that created an index
	VectorDrops       uint64 // Vector.DropIndex that dropped one
	VectorInserts     uint64 // Vector.Insert applied
	VectorDeletes     uint64 // Vector.Delete applied
	IdempotentReplays uint64 // writes answered from the idempotency cache
	Keys              int    // keys stored, including expired ones not yet reclaimed
}

// Stats sums every shard's counters.
func (c *Cluster) Stats() Stats {
	var st Stats
	for _, s := range c.shards {
		s.mu.RLock()
		st.Puts += s.ops.puts
		st.Deletes += s.ops.deletes
		st.VectorCreates += s.ops.vectorCreates
		st.VectorDrops += s.ops.vectorDrops
		st.VectorInserts += s.ops.vectorInserts
		st.VectorDeletes += s.ops.vectorDeletes
		st.IdempotentReplays += s.ops.replays
		st.Keys += len(s.kv)
		s.mu.RUnlock()
	}
	return st
}
