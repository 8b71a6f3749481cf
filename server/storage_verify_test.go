package server

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// Page headers and elements are what bbolt trusts without a checksum:
// a damaged count, overflow or offset must be refused by the walk before
// bbolt reads it, quickly, with an error naming the page. Before the
// walk, an overflow of 1<<22 pages took seconds (bbolt's check visits
// every page it claims, and larger ones took minutes and gigabytes), an
// element pointing out of its page faulted in the check's goroutine,
// where no recover reaches, and a branch page pointing at itself looped
// for ever.
func TestDataDirDamagedPageHeaders(t *testing.T) {
	good := writeDataDir(t, t.TempDir())
	meta := seedMeta(t, good)
	root, freelist := int(meta.root)*meta.pageSize, int(meta.freelist)*meta.pageSize
	put16 := func(b []byte, at int, v uint16) { binary.NativeEndian.PutUint16(b[at:], v) }
	put32 := func(b []byte, at int, v uint32) { binary.NativeEndian.PutUint32(b[at:], v) }
	put64 := func(b []byte, at int, v uint64) { binary.NativeEndian.PutUint64(b[at:], v) }
	cases := []struct {
		name   string
		damage func(b []byte)
		want   string
	}{
		{"leaf page overflow", func(b []byte) { put32(b, root+12, 1<<22) }, "overflow of"},
		{"freelist page overflow", func(b []byte) { put32(b, freelist+12, 1<<22) }, "overflow of"},
		{"freelist count", func(b []byte) { put16(b, freelist+10, 0xffff); put64(b, freelist+16, 1<<34) }, "freelist"},
		{"freelist id", func(b []byte) { put16(b, freelist+10, 1); put64(b, freelist+16, 1<<40) }, "freelist"},
		{"leaf element count", func(b []byte) { put16(b, root+10, 0xfff0) }, "elements"},
		{"leaf element offset", func(b []byte) { put32(b, root+16+4, 0x7ffffff0) }, "element 0"},
		{"leaf element value size", func(b []byte) { put32(b, root+16+12, 0x7ffffff0) }, "element 0"},
		{"page type", func(b []byte) { put16(b, root+8, 0x40) }, "type"},
		{"page id", func(b []byte) { put64(b, root, 1<<40) }, "page"},
		{"meta page size 0", func(b []byte) { setPageSize(b, meta.pageSize, 0) }, "pages of 0 bytes"},
		{"meta page size 1", func(b []byte) { setPageSize(b, meta.pageSize, 1) }, "pages of 1 bytes"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := append([]byte(nil), good...)
			tc.damage(b)
			err := startDamagedFile(t, b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start on a data file with a damaged %s: %v; want an error saying %q", tc.name, err, tc.want)
			}
		})
	}

	// A branch page whose child is itself, listed or behind a count of
	// 0 (bbolt's cursor reads element 0 anyway): needs a bucket of more
	// than one page.
	branches := []struct {
		name  string
		empty bool // the page's count set to 0
		want  string
	}{
		{"branch cycle", false, "more than once"},
		{"empty branch page", true, "no elements"},
	}
	for _, tc := range branches {
		t.Run(tc.name, func(t *testing.T) {
			b := bigDataFile(t)
			m := seedMeta(t, b)
			id := bucketRoot(t, b, bucketKV)
			at := int(id) * m.pageSize
			if flags := binary.NativeEndian.Uint16(b[at+8:]); flags != pageFlagBranch {
				t.Fatalf("bucket %s's root page %d has flags %#x, want a branch page", bucketKV, id, flags)
			}
			put64(b, at+16+8, id) // element 0's child
			if tc.empty {
				put16(b, at+10, 0)
			}
			err := startDamagedFile(t, b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("start on a data file with a %s: %v; want an error saying %q", tc.name, err, tc.want)
			}
		})
	}
}

// setPageSize writes size into both meta pages of b, with checksums that
// match: what only a bug or a forger writes.
func setPageSize(b []byte, pageSize int, size uint32) {
	for _, at := range []int{pageHeaderSize, pageSize + pageHeaderSize} {
		m := b[at : at+metaSize]
		binary.NativeEndian.PutUint32(m[8:], size)
		binary.NativeEndian.PutUint64(m[metaSumAt:], metaSum(m))
	}
}

// startDamagedFile starts a cluster on a data dir holding b; it must be
// refused as damage within a few seconds (a walk of a 32 KiB file takes
// microseconds; the bound only catches a walk that runs away).
func startDamagedFile(t *testing.T, b []byte) error {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, DataFileName), b, 0o600); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err := startDamaged(t, dir)
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("refusing the damaged file took %v", d)
	}
	return err
}

// seedMeta reads the meta page bbolt would use from a good file.
func seedMeta(t *testing.T, b []byte) fileMeta {
	t.Helper()
	m, ok := chooseMeta(bytes.NewReader(b), os.Getpagesize())
	if !ok {
		t.Fatal("no valid meta page in a good data file")
	}
	return m
}

// bigDataFile is a data file whose kv bucket spans several pages.
func bigDataFile(t *testing.T) []byte {
	t.Helper()
	dir := t.TempDir()
	writeDataDir(t, dir)
	path := filepath.Join(dir, DataFileName)
	db, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for i := range 400 {
			k := binary.BigEndian.AppendUint32([]byte{0, 0, 0, 0}, uint32(i))
			if err := tx.Bucket(bucketKV).Put(k, make([]byte, 64)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// bucketRoot is the root page of a top-level bucket in a good file.
func bucketRoot(t *testing.T, b []byte, name []byte) uint64 {
	t.Helper()
	path := filepath.Join(t.TempDir(), DataFileName)
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var id uint64
	err = db.View(func(tx *bolt.Tx) error {
		id = uint64(tx.Bucket(name).RootPage())
		return nil
	})
	if err != nil || id == 0 {
		t.Fatalf("bucket %s: root page %d, %v", name, id, err)
	}
	return id
}

// The walk refuses nothing bbolt writes: a data dir with branch pages,
// values spanning overflow pages and freed pages restarts with every key.
func TestDataDirWalkAcceptsLargeFiles(t *testing.T) {
	dir := t.TempDir()
	cfg := damageCfg(dir)
	cfg.Sync = SyncNone // written, only not fsynced: the restart is in this process
	c, err := start0(cfg, (&fakeClock{}).now)
	if err != nil {
		t.Fatal(err)
	}
	kv := dial(t, c.Addrs()[0], grpcProto).kv
	want := map[string]int{}
	for i := range 600 {
		k, n := fmt.Sprintf("key-%04d", i), 100
		if i%50 == 0 {
			n = 20_000 // several pages
		}
		if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte(k), Value: bytes.Repeat([]byte{'v'}, n)}); err != nil {
			t.Fatal(err)
		}
		want[k] = n
	}
	for i := 0; i < 600; i += 3 {
		k := fmt.Sprintf("key-%04d", i)
		if _, err := kv.Delete(ctxT(t), &v1.DeleteRequest{Key: []byte(k)}); err != nil {
			t.Fatal(err)
		}
		delete(want, k)
	}
	c.Close()
	b, err := os.ReadFile(filepath.Join(dir, DataFileName))
	if err != nil {
		t.Fatal(err)
	}
	m := seedMeta(t, b)
	if at := int(bucketRoot(t, b, bucketKV)) * m.pageSize; binary.NativeEndian.Uint16(b[at+8:]) != pageFlagBranch {
		t.Fatalf("the kv bucket's root is not a branch page; the test wants a tree of several levels")
	}

	c, err = start0(cfg, (&fakeClock{}).now)
	if err != nil {
		t.Fatalf("restart on a good data dir of %d bytes: %v", len(b), err)
	}
	defer c.Close()
	kv = dial(t, c.Addrs()[0], grpcProto).kv
	for k, n := range want {
		res, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte(k)})
		if err != nil || len(res.GetValue()) != n {
			t.Fatalf("after restart, %s: %d bytes, %v; want %d bytes", k, len(res.GetValue()), err, n)
		}
	}
}
