package routing

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

// Cross-SDK vectors from the wire contract (../shared/CONTRACT.md).
var contractVectors = []struct {
	key         string
	hash        uint64
	s1024, s256 int
}{
	{"hello", 2794345569481354659, 309, 118},
	{"world", 16679358290033791471, 752, 4},
	{"user:123", 12838382303697200627, 928, 59},
	{"order:789", 16039549273304380186, 564, 7},
	{"session:abc", 6709427766188742023, 48, 48},
	{"Hello 世界", 15196255900769524241, 228, 228},
	{"🌍🚀", 10542605020825931344, 523, 183},
	{"", 17241709254077376921, 332, 40},
	{"a", 15154266338359012955, 894, 17},
}

func TestContractVectors(t *testing.T) {
	for _, v := range contractVectors {
		if got := Hash([]byte(v.key)); got != v.hash {
			t.Errorf("Hash(%q) = %d, want %d", v.key, got, v.hash)
		}
		if got := Shard([]byte(v.key), 1024); got != v.s1024 {
			t.Errorf("Shard(%q, 1024) = %d, want %d", v.key, got, v.s1024)
		}
		if got := ShardString(v.key, 256); got != v.s256 {
			t.Errorf("ShardString(%q, 256) = %d, want %d", v.key, got, v.s256)
		}
	}
}

func TestJumpContract(t *testing.T) {
	for _, c := range []struct {
		h       uint64
		n, want int
	}{
		{1, 100, 55}, {1, 1024, 549},
		{12345678901234567890, 100, 49}, {12345678901234567890, 1024, 294},
		{18446744073709551615, 100, 92}, {18446744073709551615, 1024, 313},
		{0, 100, 0}, {0, 1024, 0},
	} {
		if got := Jump(c.h, c.n); got != c.want {
			t.Errorf("Jump(%d, %d) = %d, want %d", c.h, c.n, got, c.want)
		}
	}
}

// TestJumpProperties checks what makes jump hash a consistent hash: results
// stay in range, a single bucket takes everything, and growing from n to n+1
// buckets only moves keys into the new bucket.
func TestJumpProperties(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	if Jump(42, 0) != 0 || Jump(42, -3) != 0 || Jump(42, 1) != 0 {
		t.Fatal("degenerate bucket counts must map to 0")
	}
	for range 20000 {
		h := r.Uint64()
		n := 1 + r.IntN(2000)
		a, b := Jump(h, n), Jump(h, n+1)
		if a < 0 || a >= n {
			t.Fatalf("Jump(%d, %d) = %d out of range", h, n, a)
		}
		if b != a && b != n {
			t.Fatalf("Jump(%d): %d buckets -> %d, %d buckets -> %d; keys may only move to the new bucket", h, n, a, n+1, b)
		}
	}
}

// TestJumpBalance checks keys spread evenly: every one of 64 shards gets
// within 15% of its fair share of 64k keys.
func TestJumpBalance(t *testing.T) {
	const shards, keys = 64, 64 << 10
	var count [shards]int
	for i := range keys {
		count[ShardString("key:"+strconv.Itoa(i), shards)]++
	}
	for s, c := range count {
		if c < keys/shards*85/100 || c > keys/shards*115/100 {
			t.Errorf("shard %d got %d keys, fair share %d", s, c, keys/shards)
		}
	}
}

func BenchmarkShard1024(b *testing.B) {
	key := []byte("user:1234567")
	b.ReportAllocs()
	for b.Loop() {
		_ = Shard(key, 1024)
	}
}

func BenchmarkShardString1024(b *testing.B) {
	key := "user:1234567"
	b.ReportAllocs()
	for b.Loop() {
		_ = ShardString(key, 1024)
	}
}
