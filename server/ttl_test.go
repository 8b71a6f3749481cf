package server

import (
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// A key is invisible the moment it expires, before any reclaim runs.
func TestTTLInvisibleAtExpiry(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 1, ReapInterval: time.Hour})
	kv := leaderOf(t, c, "t").kv
	ctx := ctxT(t)
	if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("t"), Value: []byte("v"), TtlMs: 1000}); err != nil {
		t.Fatal(err)
	}
	clk.advance(999 * time.Millisecond)
	if _, err := kv.Get(ctx, &v1.GetRequest{Key: []byte("t")}); err != nil {
		t.Fatalf("1 ms before expiry: %v", err)
	}
	clk.advance(time.Millisecond)
	wantMissing(t, kv, "t")
	// Not reclaimed yet (the reaper runs hourly here), yet invisible; an
	// expired key also fails CAS and is not tombstoned by a delete.
	if keys, _ := c.shards[0].sizes(); keys != 1 {
		t.Fatalf("keys = %d before reclaim, want 1", keys)
	}
	_, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("t"), IfMatch: &v1.Version{Term: 1, Index: 1}})
	wantCode(t, err, connect.CodeFailedPrecondition, "does not exist")
	d, err := kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("t")})
	if err != nil || d.Tombstoned {
		t.Fatalf("delete of expired key = %v, %v; want tombstoned=false", d, err)
	}
}

// The min-heap reclaims expired keys, and only those whose TTL still
// applies: an overwrite without TTL must survive its old expiry.
func TestTTLReclaim(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 1, ReapInterval: time.Hour})
	kv := leaderOf(t, c, "a").kv
	ctx := ctxT(t)
	for i, k := range []string{"a", "b", "c"} {
		if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte(k), Value: []byte("v"), TtlMs: uint64(100 * (i + 1))}); err != nil {
			t.Fatal(err)
		}
	}
	put(t, kv, "b", "forever") // drops b's TTL
	clk.advance(150 * time.Millisecond)
	c.reapOnce()
	if keys, heap := c.shards[0].sizes(); keys != 2 || heap != 2 {
		t.Fatalf("after 150ms: keys=%d heap=%d, want 2 and 2", keys, heap)
	}
	clk.advance(time.Second)
	c.reapOnce()
	if keys, heap := c.shards[0].sizes(); keys != 1 || heap != 0 {
		t.Fatalf("after all expiries: keys=%d heap=%d, want 1 (b) and 0", keys, heap)
	}
	if got, err := kv.Get(ctx, &v1.GetRequest{Key: []byte("b")}); err != nil || string(got.Value) != "forever" {
		t.Fatalf("b = %v, %v", got, err)
	}
}

// The reaper goroutine does the reclaiming on its own; Close stops it
// (goleak in TestMain checks that).
func TestTTLReaperGoroutine(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 4, ReapInterval: 5 * time.Millisecond})
	kv := leaderOf(t, c, "x").kv
	if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("x"), Value: []byte("v"), TtlMs: 10}); err != nil {
		t.Fatal(err)
	}
	clk.advance(time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for c.Stats().Keys != 0 {
		if time.Now().After(deadline) {
			t.Fatal("reaper did not reclaim the expired key")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
