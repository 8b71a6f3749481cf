package server

import (
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

func TestIdempotentRetryAppliedOnce(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 8})
	kv := leaderOf(t, c, "k").kv
	ctx := ctxT(t)
	req := &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: "put-1"}
	first, err := kv.Put(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	put(t, kv, "k", "other") // a later write must not change the replay
	for range 3 {
		again, err := kv.Put(ctx, req)
		if err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(again.Version, first.Version) {
			t.Fatalf("retry version %v, first %v", again.Version, first.Version)
		}
	}
	dreq := &v1.DeleteRequest{Key: []byte("k"), IdempotencyKey: "del-1"}
	d1, err := kv.Delete(ctx, dreq)
	if err != nil {
		t.Fatal(err)
	}
	d2, err := kv.Delete(ctx, dreq)
	if err != nil || !d2.Tombstoned || !proto.Equal(d1.Version, d2.Version) {
		t.Fatalf("delete retry = %v, %v; first %v", d2, err, d1)
	}
	st := c.Stats()
	if st.Puts != 2 || st.Deletes != 1 || st.IdempotentReplays != 4 {
		t.Fatalf("stats = %+v; want 2 puts, 1 delete, 4 replays", st)
	}
}

func TestIdempotencyKeyReusedForDifferentRequest(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	kv := leaderOf(t, c, "k").kv
	ctx := ctxT(t)
	if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: "id"}); err != nil {
		t.Fatal(err)
	}
	for name, call := range map[string]func() error{
		"other value": func() error {
			_, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), Value: []byte("w"), IdempotencyKey: "id"})
			return err
		},
		"other key": func() error {
			_, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("j"), Value: []byte("v"), IdempotencyKey: "id"})
			return err
		},
		"other ttl": func() error {
			_, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), TtlMs: 5, IdempotencyKey: "id"})
			return err
		},
		"other if_match": func() error {
			_, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IfMatch: &v1.Version{Term: 1, Index: 1}, IdempotencyKey: "id"})
			return err
		},
		"other operation": func() error {
			_, err := kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("k"), IdempotencyKey: "id"})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			wantCode(t, call(), connect.CodeInvalidArgument, "idempotency key", "different request")
		})
	}
	if st := c.Stats(); st.Puts != 1 || st.Deletes != 0 {
		t.Fatalf("stats = %+v: rejected reuses must not apply", st)
	}
}

func TestIdempotencyKeysExpire(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 1, IdempotencyTTL: time.Minute, ReapInterval: time.Hour})
	kv := leaderOf(t, c, "k").kv
	ctx := ctxT(t)
	req := &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: "id"}
	first, _ := kv.Put(ctx, req)
	clk.advance(time.Minute - time.Nanosecond)
	if again, _ := kv.Put(ctx, req); !proto.Equal(again.GetVersion(), first.GetVersion()) {
		t.Fatal("replay inside the window was applied again")
	}
	clk.advance(time.Nanosecond)
	again, err := kv.Put(ctx, req)
	if err != nil || proto.Equal(again.Version, first.Version) {
		t.Fatalf("after the window: %v, %v; want a new write", again, err)
	}
	// The reaper forgets expired keys, so memory is returned.
	clk.advance(time.Hour)
	c.reapOnce()
	if _, _, idem := c.shards[0].sizes(); idem != 0 {
		t.Fatalf("idempotency entries after expiry and reap = %d", idem)
	}
}

// The bound is cluster-wide: with many shards each keeps its share, so the
// total stays bounded however many shards are written.
func TestIdempotencyCacheBoundedAcrossShards(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 8, IdempotencyMaxEntries: 40})
	ctx := ctxT(t)
	for i := 0; i < 2000; i++ {
		key := fmt.Sprint("key-", i)
		kv := leaderOf(t, c, key).kv
		if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte(key), IdempotencyKey: fmt.Sprint("id-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	total := 0
	for _, s := range c.shards {
		_, _, n := s.sizes()
		if n > 5 {
			t.Errorf("shard %d holds %d idempotency entries, want at most its share 5", s.id, n)
		}
		total += n
	}
	if total > 40 {
		t.Fatalf("cluster holds %d idempotency entries, want at most 40", total)
	}
}

func TestIdempotencyCacheBounded(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, IdempotencyMaxEntries: 10})
	kv := leaderOf(t, c, "k").kv
	ctx := ctxT(t)
	req := func(i int) *v1.PutRequest {
		return &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: fmt.Sprint("id-", i)}
	}
	first, _ := kv.Put(ctx, req(0))
	for i := 1; i < 50; i++ {
		if _, err := kv.Put(ctx, req(i)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, n := c.shards[0].sizes(); n != 10 {
		t.Fatalf("cache holds %d entries, want the bound 10", n)
	}
	// The oldest key was evicted: its retry is applied again ...
	if again, _ := kv.Put(ctx, req(0)); proto.Equal(again.GetVersion(), first.GetVersion()) {
		t.Fatal("evicted key was still replayed")
	}
	// ... while a recent one still replays.
	before := c.Stats().Puts
	if _, err := kv.Put(ctx, req(49)); err != nil || c.Stats().Puts != before {
		t.Fatalf("recent key was applied again (%v)", err)
	}
}

// Idempotency keys are scoped per shard: the same key on two shards names
// two unrelated writes.
func TestIdempotencyScopedPerShard(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 2})
	a, b := keysOnShard(c, 0, 1)[0], keysOnShard(c, 1, 1)[0]
	kv := leaderOf(t, c, a).kv
	ctx := ctxT(t)
	for _, k := range []string{a, b} {
		if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte(k), Value: []byte("v"), IdempotencyKey: "same"}); err != nil {
			t.Fatalf("put %s: %v", k, err)
		}
	}
	if st := c.Stats(); st.Puts != 2 {
		t.Fatalf("puts = %d, want 2", st.Puts)
	}
}

func TestIdempotencyCacheUnit(t *testing.T) {
	var c idemCache
	for i := range 5000 {
		c.store(fmt.Sprint(i), 1, idemResult{}, int64(i), 100, 1000)
	}
	// Everything older than now-ttl is gone, and the queue was compacted.
	if c.len() != 100 || len(c.m) != 100 || cap(c.queue) > 4096 {
		t.Fatalf("len=%d map=%d cap=%d", c.len(), len(c.m), cap(c.queue))
	}
	if _, hit, _ := c.lookup("4999", 1, 5000); !hit {
		t.Fatal("recent entry missing")
	}
	if _, _, err := c.lookup("4999", 2, 5000); err == nil {
		t.Fatal("fingerprint mismatch accepted")
	}
}
