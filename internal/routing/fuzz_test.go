package routing_test

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/bits"
	"testing"

	"github.com/cespare/xxhash/v2"

	"github.com/norikv/norikv-go/internal/routing"
)

// FuzzRouting checks the shard function against references written
// independently from the specs: xxhash64 from the xxHash specification
// (one plain loop, no unrolling), and jump hash with math/big integers
// for the wrapping multiply and big.Float at float64 precision for the
// division the contract prescribes. It also cross-checks cespare/xxhash,
// which routing uses, and ShardString against Shard.
func FuzzRouting(f *testing.F) {
	for _, s := range []string{"", "a", "hello", "world", "user:123", "order:789", "session:abc", "Hello 世界", "🌍🚀",
		"0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef0123456789", "\xff\x00\xfe"} {
		f.Add([]byte(s), uint32(1024))
		f.Add([]byte(s), uint32(256))
	}
	f.Add([]byte{}, uint32(0))
	f.Add([]byte{1}, uint32(1))
	f.Add([]byte("x"), uint32(math.MaxUint32))
	f.Fuzz(func(t *testing.T, key []byte, buckets uint32) {
		// Bound the bucket count: the loop runs O(log n) times anyway,
		// but the big.Float reference is slow.
		n := int(buckets % (1 << 20))
		want := refXXH64(key)
		if got := routing.Hash(key); got != want {
			t.Fatalf("Hash(%x) = %d, reference %d", key, got, want)
		}
		if got := xxhash.Sum64(key); got != want {
			t.Fatalf("cespare xxhash(%x) = %d, reference %d", key, got, want)
		}
		shard := routing.Shard(key, n)
		if ref := refJump(want, n); shard != ref {
			t.Fatalf("Shard(%x, %d) = %d, reference %d", key, n, shard, ref)
		}
		if n >= 1 && (shard < 0 || shard >= n) {
			t.Fatalf("Shard(%x, %d) = %d: out of range", key, n, shard)
		}
		if s := routing.ShardString(string(key), n); s != shard {
			t.Fatalf("ShardString = %d, Shard = %d", s, shard)
		}
		// Jump over the raw fuzz bytes as a hash too, so hashes that
		// xxhash rarely produces (0, max, small) are covered.
		var h uint64
		if len(key) >= 8 {
			h = binary.LittleEndian.Uint64(key)
		}
		if got, ref := routing.Jump(h, n), refJump(h, n); got != ref {
			t.Fatalf("Jump(%d, %d) = %d, reference %d", h, n, got, ref)
		}
	})
}

// xxhash64 primes, from the specification.
const (
	p1 uint64 = 0x9E3779B185EBCA87
	p2 uint64 = 0xC2B2AE3D27D4EB4F
	p3 uint64 = 0x165667B19E3779F9
	p4 uint64 = 0x85EBCA77C2B2AE63
	p5 uint64 = 0x27D4EB2F165667C5
)

func round(acc, lane uint64) uint64 {
	acc += lane * p2
	acc = bits.RotateLeft64(acc, 31)
	return acc * p1
}

// refXXH64 is XXH64(b, seed 0) straight from the specification.
func refXXH64(b []byte) uint64 {
	var seed uint64 // the contract hashes with seed 0
	var acc uint64
	i := 0
	if len(b) >= 32 {
		v := [4]uint64{seed + p1 + p2, seed + p2, seed, seed - p1}
		for ; i+32 <= len(b); i += 32 {
			for j := range v {
				v[j] = round(v[j], binary.LittleEndian.Uint64(b[i+8*j:]))
			}
		}
		acc = bits.RotateLeft64(v[0], 1) + bits.RotateLeft64(v[1], 7) + bits.RotateLeft64(v[2], 12) + bits.RotateLeft64(v[3], 18)
		for _, x := range v {
			acc ^= round(0, x)
			acc = acc*p1 + p4
		}
	} else {
		acc = seed + p5
	}
	acc += uint64(len(b))
	for ; i+8 <= len(b); i += 8 {
		acc ^= round(0, binary.LittleEndian.Uint64(b[i:]))
		acc = bits.RotateLeft64(acc, 27)*p1 + p4
	}
	if i+4 <= len(b) {
		acc ^= uint64(binary.LittleEndian.Uint32(b[i:])) * p1
		acc = bits.RotateLeft64(acc, 23)*p2 + p3
		i += 4
	}
	for ; i < len(b); i++ {
		acc ^= uint64(b[i]) * p5
		acc = bits.RotateLeft64(acc, 11) * p1
	}
	acc ^= acc >> 33
	acc *= p2
	acc ^= acc >> 29
	acc *= p3
	acc ^= acc >> 32
	return acc
}

// refJump is the contract's jump hash with the integer step done in
// math/big (explicitly mod 2^64) and the float step in big.Float rounded
// to float64's 53-bit mantissa, nearest-even, like IEEE 754.
func refJump(h uint64, buckets int) int {
	if buckets < 1 {
		return 0
	}
	mod := new(big.Int).Lsh(big.NewInt(1), 64)
	mul := new(big.Int).SetUint64(2862933555777941757)
	key := new(big.Int).SetUint64(h)
	twoTo31 := new(big.Float).SetPrec(53).SetInt64(1 << 31)
	b, j := int64(-1), int64(0)
	for j < int64(buckets) {
		b = j
		key.Mul(key, mul).Add(key, big.NewInt(1)).Mod(key, mod)
		hi := new(big.Int).Rsh(key, 33)
		den := new(big.Float).SetPrec(53).SetInt(hi.Add(hi, big.NewInt(1)))
		q := new(big.Float).SetPrec(53).Quo(twoTo31, den)
		q.Mul(q, new(big.Float).SetPrec(53).SetInt64(b+1))
		j, _ = q.Int64() // truncates toward zero, as the conversion does
	}
	return int(b)
}
