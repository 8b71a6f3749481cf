package server

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// damageCfg is the cluster shape of the damage tests: small enough that
// the fuzzer runs many starts a second.
func damageCfg(dir string) Config {
	return Config{Nodes: 1, Shards: 4, DataDir: dir, ReapInterval: time.Hour}
}

// writeDataDir fills a data dir with a few of each record and returns the
// file's bytes.
func writeDataDir(t testing.TB, dir string) []byte {
	t.Helper()
	c, err := start0(damageCfg(dir), (&fakeClock{}).now)
	if err != nil {
		t.Fatal(err)
	}
	kv := dial(t, c.Addrs()[0], grpcProto).kv
	for i, k := range []string{"a", "bb", "ccc", "dddd"} {
		req := &v1.PutRequest{Key: []byte(k), Value: []byte(strings.Repeat("v", 40*i)), IdempotencyKey: "op-" + k}
		if i%2 == 1 {
			req.TtlMs = 3600_000
		}
		if _, err := kv.Put(ctxT(t), req); err != nil {
			t.Fatal(err)
		}
	}
	vc := dial(t, c.Addrs()[0], grpcProto).vector
	if _, err := vc.CreateIndex(ctxT(t), &v1.CreateVectorIndexRequest{Namespace: "docs", Dimensions: 2, Distance: v1.DistanceFunction_DISTANCE_FUNCTION_COSINE, IndexType: v1.VectorIndexType_VECTOR_INDEX_TYPE_HNSW}); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Insert(ctxT(t), &v1.VectorInsertRequest{Namespace: "docs", Id: "x", Vector: []float32{1, 2}}); err != nil {
		t.Fatal(err)
	}
	c.Close()
	b, err := os.ReadFile(filepath.Join(dir, "norikv.db"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startDamaged starts a cluster on dir, which must fail with one error
// naming the file and saying what to do; a panic fails the test (or, in
// the fuzzer, is the crash it reports).
func startDamaged(t testing.TB, dir string) error {
	t.Helper()
	c, err := start0(damageCfg(dir), (&fakeClock{}).now)
	if err == nil {
		c.Close()
		return nil
	}
	path := filepath.Join(dir, "norikv.db")
	if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "move it away") {
		t.Fatalf("error for a damaged data dir does not name the file %s and what to do: %v", path, err)
	}
	return err
}

// editRecord rewrites one record of a good data dir with bbolt itself, as
// a bug or another program might.
func editRecord(t *testing.T, bucket, k, v []byte) string {
	t.Helper()
	dir := t.TempDir()
	writeDataDir(t, dir)
	db, err := bolt.Open(filepath.Join(dir, "norikv.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucket).Put(k, v) }); err != nil {
		t.Fatal(err)
	}
	db.Close()
	return dir
}

// A damaged data dir is one clear error, never a panic: bad records of
// every type, and damaged pages.
func TestDataDirDamaged(t *testing.T) {
	shard := func(id uint32, rest string) []byte { return append(binary.BigEndian.AppendUint32(nil, id), rest...) }
	idemKey := func(id uint32) []byte {
		return append(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint64(nil, uint64(time.Now().UnixNano())), id), "op"...)
	}
	records := []struct {
		name         string
		bucket, k, v []byte
		want         string
	}{
		{"short value", bucketKV, shard(0, "k"), []byte{1, 2, 3}, "shorter than its 24-byte header"},
		{"shard out of range", bucketKV, shard(99, "k"), make([]byte, 24), "shard 99 out of range"},
		{"short key", bucketKV, []byte{0, 1}, make([]byte, 24), "key of 2 bytes"},
		{"shard position", bucketShards, shard(1, ""), []byte{1}, "want 4 and 16"},
		{"shard position out of range", bucketShards, shard(7, ""), make([]byte, 16), "shard 7 out of range"},
		{"idempotency entry", bucketIdem, idemKey(0), []byte{1, 2}, "want 25"},
		{"idempotency shard", bucketIdem, idemKey(1 << 30), make([]byte, 25), "out of range"},
		{"vector index", bucketVecNS, shard(0, "ns"), []byte{0, 0, 0, 2}, "want 12"},
		{"vector index dimensions", bucketVecNS, shard(0, "ns"), []byte{0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1, 0, 0, 0, 1}, "Dimensions"},
		{"vector namespace length", bucketVec, append(shard(0, ""), 0xff, 0xff, 0xff, 0xf0, 'x'), []byte{0, 0, 0, 0}, "namespace of"},
		{"vector length", bucketVec, append(shard(0, ""), 0, 0, 0, 4, 'd', 'o', 'c', 's', 'y'), []byte{0, 0, 0}, "not a multiple of 4"},
		{"epoch", bucketMeta, keyEpoch, []byte{1}, "want 8"},
	}
	for _, tc := range records {
		t.Run(tc.name, func(t *testing.T) {
			err := startDamaged(t, editRecord(t, tc.bucket, tc.k, tc.v))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start on a data dir with a bad %s: %v; want an error saying %q", tc.name, err, tc.want)
			}
		})
	}

	// Bytes flipped in each page past the two meta pages: bbolt asserts
	// on what it reads, which must not get out as a panic.
	good := writeDataDir(t, t.TempDir())
	const page = 4096
	var damaged int
	for off := 2 * page; off < len(good); off += page {
		for _, at := range []int{0, 8, 10, 16, 40} {
			b := append([]byte(nil), good...)
			for i := range 4 {
				b[off+at+i] ^= 0xa5
			}
			if startDamagedFile(t, b) != nil {
				damaged++
			}
		}
	}
	if damaged == 0 {
		t.Fatalf("no flipped page made the data dir fail to load; the test damages nothing")
	}
}

// FuzzDataDir loads a mutated data file: it must load or fail with one
// clear error, never panic, hang or swell (the fuzzer kills an input
// that runs 10 s). It runs what Start runs on a data dir (openStore),
// without the nodes, so each input takes milliseconds.
func FuzzDataDir(f *testing.F) {
	f.Add(writeDataDir(f, f.TempDir()))
	f.Fuzz(func(t *testing.T, file []byte) {
		dir := t.TempDir()
		path := filepath.Join(dir, "norikv.db")
		if err := os.WriteFile(path, file, 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := damageCfg(dir)
		cfg.Sync = SyncNone // loading needs no fsync, and a slow one under load hits the fuzzer's 10 s limit
		cfg = cfg.withDefaults()
		c := &Cluster{cfg: cfg, clock: (&fakeClock{}).now, idem: newIdemCache(cfg.IdempotencyMaxEntries, cfg.IdempotencyTTL, cfg.IdempotencyRetryWindow), sessions: newSessionTable(cfg)}
		c.place()
		clusterID := "fuzz"
		if err := c.openStore(&clusterID); err != nil {
			if _, ok := errors.AsType[*shapeError](err); ok {
				return // a readable shape of another cluster: not damage
			}
			if msg := err.Error(); !strings.Contains(msg, path) || !strings.Contains(msg, "move it away") {
				t.Fatalf("error for a damaged data dir does not name the file and what to do: %v", err)
			}
			return
		}
		c.closeStore()
	})
}
