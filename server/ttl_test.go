package server

import (
	"fmt"
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
	if keys, heap := c.shards[0].sizes(); keys != 2 || heap != 1 {
		t.Fatalf("after 150ms: keys=%d heap=%d, want 2 (b, c) and 1 (c)", keys, heap)
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

// The TTL heap holds one item per live key with a TTL, however often keys
// are overwritten: a refresh moves the key's item, an overwrite without TTL
// or a delete removes it (issue 13: 20,000 refreshes of one key left
// 20,000 items).
func TestTTLHeapBoundedByLiveKeys(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 1, ReapInterval: time.Hour})
	s := &kvService{c: c}
	ctx := ctxT(t)
	putTTL := func(key string, ttl time.Duration) {
		t.Helper()
		if _, err := s.Put(ctx, &v1.PutRequest{Key: []byte(key), Value: []byte("v"), TtlMs: uint64(ttl / time.Millisecond)}); err != nil {
			t.Fatal(err)
		}
	}
	wantHeap := func(want int) {
		t.Helper()
		if _, heap := c.shards[0].sizes(); heap != want {
			t.Fatalf("TTL heap holds %d items, want %d (live keys with a TTL)", heap, want)
		}
		c.shards[0].mu.RLock()
		defer c.shards[0].mu.RUnlock()
		c.shards[0].ttl.check(t)
	}
	for range 20_000 {
		putTTL("hot", time.Hour)
	}
	wantHeap(1)
	// Many keys, each refreshed with a shorter or a longer TTL.
	for i := range 5_000 {
		putTTL(fmt.Sprint("k", i%100), time.Duration(1+(i*7919)%3600)*time.Second)
	}
	wantHeap(101)
	for i := range 50 {
		put(t, leaderOf(t, c, "x").kv, fmt.Sprint("k", i), "no ttl") // drops the TTL
	}
	wantHeap(51)
	for i := 50; i < 75; i++ {
		if _, err := s.Delete(ctx, &v1.DeleteRequest{Key: []byte(fmt.Sprint("k", i))}); err != nil {
			t.Fatal(err)
		}
	}
	wantHeap(26)
	// Expiry pops exactly the expired keys, in order.
	clk.advance(2 * time.Hour)
	c.reapOnce()
	wantHeap(0)
	if keys, _ := c.shards[0].sizes(); keys != 50 {
		t.Fatalf("%d keys after every TTL expired, want the 50 without one", keys)
	}
}

// check fails unless h is a min-heap on expiry whose entries know their
// positions.
func (h ttlHeap) check(t *testing.T) {
	t.Helper()
	for i, e := range h {
		if e.hpos != i+1 {
			t.Fatalf("item %d records position %d", i, e.hpos-1)
		}
		if p := (i - 1) / 2; i > 0 && h[p].expires > e.expires {
			t.Fatalf("item %d expires at %d, before its parent %d at %d", i, e.expires, p, h[p].expires)
		}
	}
}

// Moving a key's item (an overwrite with a new TTL) and putting it back
// after a removal cost no allocation once the heap has room: container/heap
// takes *entry without boxing.
func TestTTLHeapUpdatesDoNotAllocate(t *testing.T) {
	var h ttlHeap
	es := make([]*entry, 100)
	for i := range es {
		es[i] = &entry{expires: int64(i)}
		h.set(es[i])
	}
	n := int64(1000)
	if a := testing.AllocsPerRun(100, func() {
		n++
		es[int(n)%len(es)].expires = n
		h.set(es[int(n)%len(es)])
		h.remove(es[0])
		h.set(es[0])
	}); a != 0 {
		t.Fatalf("%.1f allocations per update", a)
	}
	for prev := int64(-1); len(h) > 0; {
		e := h.peek()
		if e.expires < prev {
			t.Fatalf("heap order broken: %d after %d", e.expires, prev)
		}
		prev = e.expires
		h.remove(e)
	}
}
