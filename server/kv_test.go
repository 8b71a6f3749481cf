package server

import (
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
)

// The generated client over plain gRPC stands in for any client built from
// the upstream schema.
func TestPutGetDeleteOverGRPC(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 64})
	kv := leaderOf(t, c, "hello").kv
	ctx := ctxT(t)
	ver := put(t, kv, "hello", "world")
	got, err := kv.Get(ctx, &v1.GetRequest{Key: []byte("hello")})
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Value) != "world" || !proto.Equal(got.Version, ver) {
		t.Fatalf("get = %q %v, want world %v", got.Value, got.Version, ver)
	}
	del, err := kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("hello")})
	if err != nil || !del.Tombstoned {
		t.Fatalf("delete = %v, %v", del, err)
	}
	wantMissing(t, kv, "hello")
}

// A missing key is answered as the production server does: OK, an empty
// value and no version. A stored empty value keeps its version, so the two
// stay distinguishable, on every protocol.
func TestGetMissingKeyOKWithoutVersion(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 2, Shards: 8})
	for _, p := range allProtocols {
		t.Run(p.name, func(t *testing.T) {
			kv := dial(t, c.Addr(c.Leader(c.ShardOf([]byte("nope")))), p).kv
			wantMissing(t, kv, "nope")
			kv = dial(t, c.Addr(c.Leader(c.ShardOf([]byte("empty")))), p).kv
			ver := put(t, kv, "empty", "")
			got, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte("empty")})
			if err != nil || len(got.Value) != 0 || !proto.Equal(got.Version, ver) {
				t.Fatalf("get of a stored empty value = %v, %v; want an empty value at %v", got, err, ver)
			}
		})
	}
}

// wantMissing fails unless Get of key answers OK with no value and no
// version.
func wantMissing(t testing.TB, kv norikvv1connect.KvClient, key string) {
	t.Helper()
	got, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte(key)})
	if err != nil {
		t.Fatalf("get of missing %q: %v; want OK without a version", key, err)
	}
	if len(got.Value) != 0 || got.Version != nil {
		t.Fatalf("get of missing %q = value %q version %v; want neither", key, got.Value, got.Version)
	}
}

// Every write to a shard (put, delete, vector write) takes the next log
// index; the term is the shard's.
func TestVersionIndexStrictlyIncreasesPerShard(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 4})
	keys := keysOnShard(c, 2, 4)
	absent := keys[3]
	keys = keys[:3]
	cl := leaderOf(t, c, keys[0])
	ctx := ctxT(t)
	var last uint64
	check := func(v *v1.Version) {
		t.Helper()
		if v.Term != 1 {
			t.Fatalf("term = %d, want 1 (no leadership change yet)", v.Term)
		}
		if v.Index <= last {
			t.Fatalf("index %d after %d: not strictly increasing", v.Index, last)
		}
		last = v.Index
	}
	for i := range 3 {
		for _, k := range keys {
			check(put(t, cl.kv, k, "v"))
		}
		d, err := cl.kv.Delete(ctx, &v1.DeleteRequest{Key: []byte(keys[i])})
		if err != nil {
			t.Fatal(err)
		}
		check(d.Version)
	}
	// A delete of an absent key is still a write with its own index.
	d, err := cl.kv.Delete(ctx, &v1.DeleteRequest{Key: []byte(absent)})
	if err != nil || d.Tombstoned {
		t.Fatalf("delete absent = %v, %v", d, err)
	}
	check(d.Version)
	// Another shard has its own log.
	other := keysOnShard(c, 3, 1)[0]
	if v := put(t, leaderOf(t, c, other).kv, other, "v"); v.Index != 1 {
		t.Fatalf("first write to shard 3 has index %d, want 1", v.Index)
	}
}

func TestTermGrowsWhenLeadershipMoves(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 4})
	key := "moving"
	shard := c.ShardOf([]byte(key))
	v1st := put(t, leaderOf(t, c, key).kv, key, "a")
	if err := c.TransferLeader(shard, followerOf(t, c, key)); err != nil {
		t.Fatal(err)
	}
	v2nd := put(t, leaderOf(t, c, key).kv, key, "b")
	if v2nd.Term <= v1st.Term || v2nd.Index <= v1st.Index {
		t.Fatalf("after transfer version %v, before %v: term and index must grow", v2nd, v1st)
	}
}

func TestKeyRemembersVersionOfLastWrite(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	kv := leaderOf(t, c, "a").kv
	put(t, kv, "a", "1")
	va2 := put(t, kv, "a", "2")
	put(t, kv, "b", "1") // moves the shard's index on, not a's version
	got, err := kv.Get(ctxT(t), &v1.GetRequest{Key: []byte("a")})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got.Version, va2) || string(got.Value) != "2" {
		t.Fatalf("get a = %q %v, want 2 %v", got.Value, got.Version, va2)
	}
}

func TestDeleteTombstoned(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	kv := leaderOf(t, c, "a").kv
	ctx := ctxT(t)
	pv := put(t, kv, "a", "1")
	d1, err := kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("a")})
	if err != nil || !d1.Tombstoned || d1.Version.Index <= pv.Index {
		t.Fatalf("first delete = %v, %v", d1, err)
	}
	d2, err := kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("a")})
	if err != nil || d2.Tombstoned || d2.Version.Index <= d1.Version.Index {
		t.Fatalf("second delete = %v, %v; want tombstoned=false and a later version", d2, err)
	}
}

func TestCompareAndSwapPut(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	kv := leaderOf(t, c, "a").kv
	ctx := ctxT(t)
	_, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("a"), Value: []byte("x"), IfMatch: &v1.Version{Term: 1, Index: 1}})
	wantCode(t, err, connect.CodeFailedPrecondition, "version 1:1 but the key does not exist")

	v := put(t, kv, "a", "1")
	res, err := kv.Put(ctx, &v1.PutRequest{Key: []byte("a"), Value: []byte("2"), IfMatch: v})
	if err != nil {
		t.Fatalf("CAS with the current version: %v", err)
	}
	// The old version no longer matches; the message names both.
	_, err = kv.Put(ctx, &v1.PutRequest{Key: []byte("a"), Value: []byte("3"), IfMatch: v})
	wantCode(t, err, connect.CodeFailedPrecondition,
		versionOf(v).String(), versionOf(res.Version).String())
	// Same index, other term: CAS compares both.
	_, err = kv.Put(ctx, &v1.PutRequest{Key: []byte("a"), Value: []byte("3"), IfMatch: &v1.Version{Term: 9, Index: res.Version.Index}})
	wantCode(t, err, connect.CodeFailedPrecondition)
	got, _ := kv.Get(ctx, &v1.GetRequest{Key: []byte("a")})
	if string(got.GetValue()) != "2" {
		t.Fatalf("value = %q, failed CAS must not write", got.GetValue())
	}
}

func TestCompareAndSwapDelete(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	kv := leaderOf(t, c, "a").kv
	ctx := ctxT(t)
	_, err := kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("a"), IfMatch: &v1.Version{Term: 1, Index: 1}})
	wantCode(t, err, connect.CodeFailedPrecondition, "does not exist")
	v1st := put(t, kv, "a", "1")
	v2nd := put(t, kv, "a", "2")
	_, err = kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("a"), IfMatch: v1st})
	wantCode(t, err, connect.CodeFailedPrecondition, versionOf(v1st).String(), versionOf(v2nd).String())
	if got, err := kv.Get(ctx, &v1.GetRequest{Key: []byte("a")}); err != nil || got.Version == nil {
		t.Fatalf("failed CAS delete removed the key: %v, %v", got, err)
	}
	d, err := kv.Delete(ctx, &v1.DeleteRequest{Key: []byte("a"), IfMatch: v2nd})
	if err != nil || !d.Tombstoned {
		t.Fatalf("CAS delete with current version = %v, %v", d, err)
	}
}

// Versions print as "term:index", the one textual form the SDK, the CLI
// and the server share.
func TestVersionString(t *testing.T) {
	if got := (version{term: 3, index: 17}).String(); got != "3:17" {
		t.Fatalf("version string = %q, want 3:17", got)
	}
}
