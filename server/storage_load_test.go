package server

import (
	"fmt"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// storedKeys counts the keys in the data dir's kv bucket.
func storedKeys(t *testing.T, c *Cluster) int {
	t.Helper()
	var n int
	if err := c.store.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketKV).Stats().KeyN
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}

// Lagging followers hold the stored keys after a restart: their copies are
// made from the loaded shard, not before it was loaded.
func TestDataDirLaggingFollowersLoaded(t *testing.T) {
	cfg := Config{Nodes: 3, Shards: 4, DataDir: t.TempDir(), ReplicationLag: time.Hour}
	c1, clk := startTest(t, cfg)
	const key = "kept"
	put(t, leaderOf(t, c1, key).kv, key, "v")
	clk.advance(2 * time.Hour)
	c1.Close()

	c2, _ := startTest(t, cfg)
	lag := laggingNode(t, c2, key)
	if got := staleGet(t, c2, lag, key); string(got.Value) != "v" {
		t.Fatalf("after a restart, stale_ok read on lagging follower %s = %q %v; want v (the leader has it: %q)",
			lag, got.Value, got.Version, getKey(t, c2, key).Value)
	}
}

// A restart loads at most IdempotencyMaxEntries idempotency entries (the
// newest), and forgets the rest on disk too.
func TestDataDirRestoreRespectsMaxEntries(t *testing.T) {
	const maxEntries = 10
	cfg := Config{Nodes: 1, Shards: 4, DataDir: t.TempDir(), IdempotencyMaxEntries: maxEntries, IdempotencyRetryWindow: time.Millisecond}
	c1, clk := startTest(t, cfg)
	kv := leaderOf(t, c1, "k").kv
	var last *v1.PutRequest
	var lastVer *v1.Version
	for i := range 200 {
		last = &v1.PutRequest{Key: []byte(fmt.Sprintf("k%d", i)), Value: []byte("v"), IdempotencyKey: fmt.Sprintf("op-%d", i)}
		res, err := kv.Put(ctxT(t), last)
		if err != nil {
			t.Fatal(err)
		}
		lastVer = res.Version
		clk.advance(2 * time.Millisecond)
	}
	c1.Close()

	c2, _ := startTest(t, cfg)
	if got := c2.idem.size(); got > maxEntries {
		t.Fatalf("after a restart %d idempotency entries loaded, above IdempotencyMaxEntries %d", got, maxEntries)
	}
	var onDisk int
	_ = c2.store.db.View(func(tx *bolt.Tx) error { // the callback cannot fail
		onDisk = tx.Bucket(bucketIdem).Stats().KeyN
		return nil
	})
	if onDisk > maxEntries {
		t.Fatalf("%d idempotency entries left on disk, above IdempotencyMaxEntries %d", onDisk, maxEntries)
	}
	res, err := leaderOf(t, c2, "k").kv.Put(ctxT(t), last)
	if err != nil || res.Version.GetIndex() != lastVer.Index {
		t.Fatalf("the newest keyed write was not replayed after a restart: %v, %v; want version %v", res.GetVersion(), err, lastVer)
	}
}

// Expired keys leave the data dir when the reaper reclaims them, not only
// at the next start.
func TestDataDirReapsExpiredKeys(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 4, DataDir: t.TempDir(), ReapInterval: time.Hour})
	kv := leaderOf(t, c, "k").kv
	for i := range 5 {
		if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte(fmt.Sprintf("t%d", i)), Value: []byte("v"), TtlMs: 1000}); err != nil {
			t.Fatal(err)
		}
	}
	put(t, kv, "kept", "v")
	if got := storedKeys(t, c); got != 6 {
		t.Fatalf("%d keys on disk, want 6", got)
	}
	clk.advance(2 * time.Second)
	c.reapOnce()
	if got := storedKeys(t, c); got != 1 {
		t.Fatalf("after the reaper ran, %d keys on disk, want 1 (the expired ones deleted)", got)
	}
}
