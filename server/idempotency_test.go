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
	if idem := c.idem.size(); idem != 0 {
		t.Fatalf("idempotency entries after expiry and reap = %d", idem)
	}
}

// The budget is the cluster's, not split over shards: one shard may use
// all of it.
func TestIdempotencyBudgetSharedByCluster(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 8, IdempotencyMaxEntries: 40})
	key := "k"
	kv := leaderOf(t, c, key).kv
	ctx := ctxT(t)
	for i := range 40 {
		if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte(key), IdempotencyKey: fmt.Sprint("id-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.idem.size(); n != 40 {
		t.Fatalf("cluster remembers %d keys written to one shard, want all 40", n)
	}
	before := c.Stats()
	for i := range 40 {
		if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte(key), IdempotencyKey: fmt.Sprint("id-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	if st := c.Stats(); st.Puts != before.Puts || st.IdempotentReplays != before.IdempotentReplays+40 {
		t.Fatalf("retries of 40 writes to one shard: %d applied again, %d replayed; want 0 and 40",
			st.Puts-before.Puts, st.IdempotentReplays-before.IdempotentReplays)
	}
}

// A key younger than the retry window is never evicted: when the budget
// holds only such keys, a new keyed write is refused, unapplied, with
// RESOURCE_EXHAUSTED. Older keys make room, oldest first.
func TestIdempotencyRetryWindowProtectsRecentKeys(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 1, IdempotencyMaxEntries: 10,
		IdempotencyTTL: 10 * time.Minute, IdempotencyRetryWindow: time.Minute, ReapInterval: time.Hour})
	kv := leaderOf(t, c, "k").kv
	ctx := ctxT(t)
	req := func(i int) *v1.PutRequest {
		return &v1.PutRequest{Key: []byte("k"), Value: []byte(fmt.Sprint(i)), IdempotencyKey: fmt.Sprint("id-", i)}
	}
	var first []*v1.Version
	for i := range 10 {
		res, err := kv.Put(ctx, req(i))
		if err != nil {
			t.Fatal(err)
		}
		first = append(first, res.Version)
		if i == 0 {
			clk.advance(time.Second) // id-0 is the oldest, by a second
		}
	}
	clk.advance(time.Minute - time.Second - time.Nanosecond)
	_, err := kv.Put(ctx, req(10))
	wantCode(t, err, connect.CodeResourceExhausted, "idempotency", "10", "1m0s", "not applied")
	if got, _ := kv.Get(ctx, &v1.GetRequest{Key: []byte("k")}); string(got.GetValue()) != "9" || c.Stats().Puts != 10 {
		t.Fatalf("refused write applied: value %q, %d puts", got.GetValue(), c.Stats().Puts)
	}
	// Retries of remembered writes still replay, and writes without a key
	// are not affected.
	for i := range 10 {
		if again, err := kv.Put(ctx, req(i)); err != nil || !proto.Equal(again.Version, first[i]) {
			t.Fatalf("retry %d while full = %v, %v; want the first version %v", i, again, err, first[i])
		}
	}
	put(t, kv, "k", "unkeyed")

	clk.advance(time.Nanosecond) // id-0 leaves the window
	if _, err := kv.Put(ctx, req(10)); err != nil {
		t.Fatalf("write once the oldest key left the window: %v", err)
	}
	if n := c.idem.size(); n != 10 {
		t.Fatalf("cache holds %d entries, want the bound 10", n)
	}
	if again, _ := kv.Put(ctx, req(1)); !proto.Equal(again.GetVersion(), first[1]) {
		t.Fatal("id-1 was evicted although it was still inside the window")
	}
	// id-0 was the one evicted: its retry is a new write, refused while
	// every remembered key is inside the window.
	_, err = kv.Put(ctx, req(0))
	wantCode(t, err, connect.CodeResourceExhausted)
}

// A keyed write that is not applied (failed CAS, missing namespace) gives
// its place in the budget back.
func TestIdempotencyRefusedWritesFreeTheirPlace(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, IdempotencyMaxEntries: 2})
	cl := leaderOf(t, c, "k")
	ctx := ctxT(t)
	for i := range 5 {
		_, err := cl.kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), IfMatch: &v1.Version{Term: 9, Index: 9}, IdempotencyKey: fmt.Sprint("cas-", i)})
		wantCode(t, err, connect.CodeFailedPrecondition)
		_, err = cl.kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("k"), IfMatch: &v1.Version{Term: 9, Index: 9}, IdempotencyKey: fmt.Sprint("del-", i)})
		wantCode(t, err, connect.CodeFailedPrecondition)
		_, err = cl.vector.Insert(ctx, &v1.VectorInsertRequest{Namespace: "none", Id: "a", Vector: []float32{1}, IdempotencyKey: fmt.Sprint("ins-", i)})
		wantCode(t, err, connect.CodeNotFound)
	}
	for i := range 2 {
		if _, err := cl.kv.Put(ctx, &v1.PutRequest{Key: []byte("k"), IdempotencyKey: fmt.Sprint("ok-", i)}); err != nil {
			t.Fatalf("keyed write %d after refused ones: %v", i, err)
		}
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
	// Expiry: ttl 100 ticks, plenty of budget.
	c := newIdemCache(1000, 100, 10)
	for i := range 5000 {
		k := scopedKey{key: fmt.Sprint(i)}
		if _, _, err := c.begin(k, 1, int64(i)); err != nil {
			t.Fatal(err)
		}
		c.commit(k, 1, idemResult{}, int64(i))
	}
	// Everything older than now-ttl is gone, and the FIFO was compacted.
	if c.len() != 100 || len(c.m) != 100 || cap(c.entries) > 4096 {
		t.Fatalf("len=%d map=%d cap=%d", c.len(), len(c.m), cap(c.entries))
	}
	if _, hit, _ := c.begin(scopedKey{key: "4999"}, 1, 5000); !hit {
		t.Fatal("recent entry missing")
	}
	if _, _, err := c.begin(scopedKey{key: "4999"}, 2, 5000); err == nil {
		t.Fatal("fingerprint mismatch accepted")
	}
	if _, hit, _ := c.begin(scopedKey{shard: 1, key: "4999"}, 2, 5000); hit {
		t.Fatal("a key on another shard replayed")
	}
	c.cancel()

	// Budget: 100 entries, window 10 ticks, one write a tick: the oldest
	// (always past the window) makes room; the count never passes 100.
	c = newIdemCache(100, 1_000_000, 10)
	for i := range 5000 {
		k := scopedKey{key: fmt.Sprint(i)}
		if _, _, err := c.begin(k, 1, int64(i)); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
		c.commit(k, 1, idemResult{}, int64(i))
		if c.len() > 100 {
			t.Fatalf("%d entries after write %d, budget 100", c.len(), i)
		}
	}
	if _, hit, _ := c.begin(scopedKey{key: "4900"}, 1, 5000); !hit {
		t.Fatal("newest 100 entries not all kept")
	}
}

// Issue 13: about a thousand keyed writes to one shard made the server
// forget idempotency keys well inside the client's retry window, so a
// retried compare-and-swap came back as a false version mismatch and a
// retried Put was applied twice.
func TestIdempotencyHotShardRemembersRecentKeys(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1}) // default shards and budget
	key := "hot"
	kv := leaderOf(t, c, key).kv
	ctx := ctxT(t)
	v0 := put(t, kv, key, "v0")
	cas := &v1.PutRequest{Key: []byte(key), Value: []byte("cas"), IfMatch: v0, IdempotencyKey: "cas-1"}
	first, err := kv.Put(ctx, cas)
	if err != nil {
		t.Fatal(err)
	}
	plain := &v1.PutRequest{Key: []byte(key), Value: []byte("plain"), IdempotencyKey: "plain-1"}
	firstPlain, err := kv.Put(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	others := keysOnShard(c, c.ShardOf([]byte(key)), 7)
	for i := range 1000 {
		if _, err := kv.Put(ctx, &v1.PutRequest{Key: []byte(others[i%len(others)]), Value: []byte("x"), IdempotencyKey: fmt.Sprint("other-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	before := c.Stats().Puts
	again, err := kv.Put(ctx, cas)
	if err != nil || !proto.Equal(again.Version, first.Version) {
		t.Fatalf("retried CAS after 1000 writes = %v, %v; want the first version %v", again, err, first.Version)
	}
	againPlain, err := kv.Put(ctx, plain)
	if err != nil || !proto.Equal(againPlain.Version, firstPlain.Version) || c.Stats().Puts != before {
		t.Fatalf("retried put after 1000 writes = %v, %v (applies %d -> %d); want the first version %v, applied once",
			againPlain, err, before, c.Stats().Puts, firstPlain.Version)
	}
}
