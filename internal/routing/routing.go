// Package routing maps keys and vector namespaces to shards exactly as every
// NoriKV server and SDK does: jump(xxhash64(bytes, seed 0), totalShards).
//
// Client and server share this one implementation so they can never
// disagree about where a key lives.
package routing

import "github.com/cespare/xxhash/v2"

// Hash is xxhash64 of b with seed 0, the contract's key hash.
func Hash(b []byte) uint64 { return xxhash.Sum64(b) }

// Jump is Lamping and Veach's jump consistent hash: it maps h to a bucket in
// [0, buckets). It returns 0 when buckets < 1. The arithmetic (wrapping
// multiply, the float64 division) is the one the NoriKV server uses, so
// results match it bit for bit.
func Jump(h uint64, buckets int) int {
	if buckets < 1 {
		return 0
	}
	var b, j int64 = -1, 0
	for j < int64(buckets) {
		b = j
		h = h*2862933555777941757 + 1
		j = int64(float64(b+1) * (float64(1<<31) / float64((h>>33)+1)))
	}
	return int(b)
}

// Shard returns the shard of key (a key's bytes, or a namespace's UTF-8
// bytes) among totalShards.
func Shard(key []byte, totalShards int) int { return Jump(Hash(key), totalShards) }

// ShardString is Shard for a string, without copying it.
func ShardString(key string, totalShards int) int {
	return Jump(xxhash.Sum64String(key), totalShards)
}
