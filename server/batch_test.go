package server

import (
	"strings"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

func batchPut(key, value, idem string, ifMatch *v1.Version) *v1.BatchOp {
	return &v1.BatchOp{Op: &v1.BatchOp_Put{Put: &v1.PutRequest{Key: []byte(key), Value: []byte(value), IdempotencyKey: idem, IfMatch: ifMatch}}}
}

func batchGet(key string) *v1.BatchOp {
	return &v1.BatchOp{Op: &v1.BatchOp_Get{Get: &v1.GetRequest{Key: []byte(key)}}}
}

func batchDelete(key string) *v1.BatchOp {
	return &v1.BatchOp{Op: &v1.BatchOp_Delete{Delete: &v1.DeleteRequest{Key: []byte(key)}}}
}

// keyLedElsewhere is a key of a shard whose leader is not leader.
func keyLedElsewhere(t *testing.T, c *Cluster, leader string) string {
	t.Helper()
	for s := uint32(1); s < uint32(len(c.shards)); s++ {
		if c.Leader(s) != leader {
			return keysOnShard(c, s, 1)[0]
		}
	}
	t.Fatal("every shard has the same leader")
	return ""
}

// Each operation of a batch gets its own result: a NOT_LEADER (a key led
// elsewhere) or a CAS mismatch fails that operation only, with the unary
// call's code, message and hint, and the neighbours are applied.
func TestBatchPerOperationResults(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 8})
	leader := c.Leader(0)
	kv := dial(t, c.Addr(leader), grpcProto).kv
	mine := keysOnShard(c, 0, 3)
	other := keyLedElsewhere(t, c, leader)
	ver := put(t, kv, mine[1], "old")
	res, err := kv.Batch(ctxT(t), &v1.BatchRequest{Ops: []*v1.BatchOp{
		batchPut(mine[0], "v0", "", nil),
		batchPut(other, "x", "", nil),
		batchPut(mine[1], "cas", "", &v1.Version{Term: ver.Term, Index: ver.Index + 100}),
		batchGet(mine[1]),
		batchGet(mine[2]),
		batchDelete(mine[0]),
		batchGet(mine[0]),
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Results
	if len(r) != 7 {
		t.Fatalf("%d results for 7 operations", len(r))
	}
	if r[0].GetPut().GetVersion() == nil {
		t.Errorf("put result = %v, want a version", r[0])
	}
	nl := r[1].GetError()
	wantAddr := c.Addr(c.Leader(c.ShardOf([]byte(other))))
	if nl == nil || connect.Code(nl.Code) != connect.CodeUnavailable || !strings.HasPrefix(nl.Message, wire.NotLeaderPrefix) || nl.LeaderAddr != wantAddr || nl.LeaderId == "" {
		t.Errorf("put to a key led elsewhere = %v, want UNAVAILABLE NOT_LEADER naming %s", r[1], wantAddr)
	}
	if e := r[2].GetError(); e == nil || connect.Code(e.Code) != connect.CodeFailedPrecondition || !strings.Contains(e.Message, "version") {
		t.Errorf("CAS mismatch = %v, want FAILED_PRECONDITION naming the version", r[2])
	}
	if g := r[3].GetGet(); string(g.GetValue()) != "old" || !proto.Equal(g.GetVersion(), ver) {
		t.Errorf("get after a failed CAS = %v, want old at %v", r[3], ver)
	}
	if g := r[4].GetGet(); g == nil || g.Version != nil {
		t.Errorf("get of a missing key = %v, want OK without a version", r[4])
	}
	if d := r[5].GetDelete(); !d.GetTombstoned() {
		t.Errorf("delete after put in the same batch = %v, want tombstoned", r[5])
	}
	if g := r[6].GetGet(); g == nil || g.Version != nil {
		t.Errorf("get after delete = %v, want missing", r[6])
	}
}

// A batched keyed write is replayed like the unary one: a retry of the
// same batch (a lost response) applies nothing twice, and the unary Put
// with that key replays the batched write's version.
func TestBatchIdempotentReplay(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 4})
	kv := dial(t, c.Addr("n1"), protocols[2]).kv
	req := &v1.BatchRequest{Ops: []*v1.BatchOp{batchPut("a", "1", "key-a", nil)}}
	first, err := kv.Batch(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := kv.Batch(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	v1st, v2nd := first.Results[0].GetPut().GetVersion(), again.Results[0].GetPut().GetVersion()
	if v1st == nil || !proto.Equal(v1st, v2nd) {
		t.Fatalf("retried batched put = %v, first %v: want the first version", v2nd, v1st)
	}
	unary, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("a"), Value: []byte("1"), IdempotencyKey: "key-a"})
	if err != nil || !proto.Equal(unary.Version, v1st) {
		t.Fatalf("unary retry of a batched put = %v, %v; want %v", unary, err, v1st)
	}
}

func TestBatchLimits(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 4})
	kv := dial(t, c.Addr("n1"), protocols[2]).kv
	_, err := kv.Batch(ctxT(t), &v1.BatchRequest{})
	wantCode(t, err, connect.CodeInvalidArgument, "ops")
	ops := make([]*v1.BatchOp, wire.BatchMaxOps+1)
	for i := range ops {
		ops[i] = batchGet("k")
	}
	_, err = kv.Batch(ctxT(t), &v1.BatchRequest{Ops: ops})
	wantCode(t, err, connect.CodeInvalidArgument, "ops", "1000")
	big := make([]byte, 1<<20)
	ops = ops[:3] // 3 MiB of values and 3 bytes of keys
	for i := range ops {
		ops[i] = &v1.BatchOp{Op: &v1.BatchOp_Put{Put: &v1.PutRequest{Key: []byte("k"), Value: big}}}
	}
	_, err = kv.Batch(ctxT(t), &v1.BatchRequest{Ops: ops})
	wantCode(t, err, connect.CodeInvalidArgument, "ops", "3145728")
	_, err = kv.Batch(ctxT(t), &v1.BatchRequest{Ops: []*v1.BatchOp{{}}})
	wantCode(t, err, connect.CodeInvalidArgument, "op")
	_, err = kv.Batch(ctxT(t), &v1.BatchRequest{Ops: []*v1.BatchOp{batchGet("")}})
	wantCode(t, err, connect.CodeInvalidArgument, "key")
}

// With Defects.NoBatch a node answers as servers without the rpc do.
func TestBatchDisabled(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 4, Defects: Defects{NoBatch: true}})
	for _, p := range allProtocols {
		_, err := dial(t, c.Addr("n1"), p).kv.Batch(ctxT(t), &v1.BatchRequest{Ops: []*v1.BatchOp{batchGet("k")}})
		wantCode(t, err, connect.CodeUnimplemented)
	}
}

// After an operation on a key fails in a way the client re-sends
// (NOT_LEADER here), the later operations on that key are not run, so
// they cannot overtake it; other keys are unaffected.
func TestBatchHoldsKeyBehindResent(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 8})
	leader := c.Leader(0)
	kv := dial(t, c.Addr(leader), grpcProto).kv
	mine := keysOnShard(c, 0, 1)[0]
	other := keyLedElsewhere(t, c, leader)
	res, err := kv.Batch(ctxT(t), &v1.BatchRequest{Ops: []*v1.BatchOp{
		batchPut(other, "a", "", nil), // NOT_LEADER
		batchGet(other),               // not run
		batchPut(mine, "m", "", nil),  // applied
		batchPut(other, "b", "", nil), // not run
	}})
	if err != nil {
		t.Fatal(err)
	}
	r := res.Results
	if _, nl := wire.ParseNotLeader(wire.BatchErrorToError(r[0].GetError())); !nl {
		t.Fatalf("op 0 = %v, want NOT_LEADER", r[0])
	}
	for _, i := range []int{1, 3} {
		if !wire.IsNotRun(r[i].GetError()) {
			t.Errorf("op %d on the held key = %v, want NOT_RUN", i, r[i])
		}
	}
	if r[2].GetPut().GetVersion() == nil {
		t.Errorf("op 2 on another key = %v, want applied", r[2])
	}
}

// An answer carries at most wire.BatchMaxAnswerBytes of values: later reads
// are not run, the first always is.
func TestBatchAnswerBounded(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 4})
	kv := dial(t, c.Addr(c.Leader(0)), grpcProto).kv
	big := strings.Repeat("x", 1<<20)
	var ops []*v1.BatchOp
	for i := range 6 {
		k := "big-" + string(rune('a'+i))
		put(t, kv, k, big)
		ops = append(ops, batchGet(k))
	}
	res, err := kv.Batch(ctxT(t), &v1.BatchRequest{Ops: ops})
	if err != nil {
		t.Fatal(err)
	}
	read, notRun := 0, 0
	for _, r := range res.Results {
		switch {
		case len(r.GetGet().GetValue()) == len(big):
			read++
		case wire.IsNotRun(r.GetError()):
			notRun++
		default:
			t.Fatalf("result %v", r)
		}
	}
	if read == 0 || read*(1<<20) > wire.BatchMaxAnswerBytes || read+notRun != 6 {
		t.Fatalf("%d reads answered, %d not run, want at most %d MiB answered", read, notRun, wire.BatchMaxAnswerBytes>>20)
	}
}
