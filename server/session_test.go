package server

import (
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

const testSessionID = "AAAAAAAAAAAAAAAAAAAAAA"

func sessKeyStr(id string, seq, low uint64) string {
	return string(wire.AppendSessionKey(nil, id, seq, low))
}

// A session write's retry replays its first result until the client's
// watermark passes it; then its answer is dropped, and a retry of it is
// refused, never applied again.
func TestSessionReplayThenWatermark(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 3, Shards: 4})
	kv := leaderOf(t, c, "a").kv
	req := &v1.PutRequest{Key: []byte("a"), Value: []byte("v1"), IdempotencyKey: sessKeyStr(testSessionID, 1, 1)}
	first, err := kv.Put(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := kv.Put(ctxT(t), req)
	if err != nil || again.Version.GetIndex() != first.Version.GetIndex() {
		t.Fatalf("retry = %v, %v; want the first version %v", again.GetVersion(), err, first.Version)
	}
	if st := c.SessionStats(); st.Sessions != 1 || st.Answers != 1 {
		t.Fatalf("stats %+v, want 1 session with 1 answer", st)
	}
	// Write 2 says the client awaits nothing below 2.
	if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("a"), Value: []byte("v2"), IdempotencyKey: sessKeyStr(testSessionID, 2, 2)}); err != nil {
		t.Fatal(err)
	}
	if st := c.SessionStats(); st.Answers != 1 {
		t.Fatalf("after the watermark passed 1: %d answers retained, want 1", st.Answers)
	}
	_, err = kv.Put(ctxT(t), req)
	wantCode(t, err, connect.CodeOutOfRange, "idempotency session", "below the session's watermark 2")
	if got := getKey(t, c, "a"); string(got.Value) != "v2" {
		t.Fatalf("after the refused retry a = %q, want v2: the old write was applied again", got.Value)
	}
	if st := c.SessionStats(); st.Refused != 1 {
		t.Fatalf("refusals %d, want 1", st.Refused)
	}
	// The same sequence for another request is a client bug.
	_, err = kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("a"), Value: []byte("other"), IdempotencyKey: sessKeyStr(testSessionID, 2, 2)})
	wantCode(t, err, connect.CodeInvalidArgument, "different request")
}

// Sessions cost memory per call in flight: thousands of writes, each
// advancing the watermark, leave one answer, and an idle session is
// forgotten after the idle timeout.
func TestSessionMemoryFollowsCallsInFlight(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 1, IdempotencyMaxEntries: 10, SessionIdleTimeout: time.Minute})
	kv := leaderOf(t, c, "k").kv
	for i := uint64(1); i <= 2000; i++ {
		// 4 calls in flight: the watermark trails by 3.
		low := uint64(1)
		if i > 3 {
			low = i - 3
		}
		if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: sessKeyStr(testSessionID, i, low)}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if st := c.SessionStats(); st.Sessions != 1 || st.Answers != 4 {
		t.Fatalf("stats %+v, want 1 session with 4 answers", st)
	}
	if n := c.idem.size(); n != 0 {
		t.Fatalf("the TTL cache holds %d keys; session writes should not use it", n)
	}
	clk.advance(2 * time.Minute)
	c.reapOnce()
	if st := c.SessionStats(); st.Sessions != 0 || st.Answers != 0 || st.Expired != 1 {
		t.Fatalf("after the idle timeout: %+v, want the session expired", st)
	}
}

// A client that never advances its watermark keeps at most
// SessionMaxAnswers answers; a retry of a dropped one is refused.
func TestSessionBoundedWhenWatermarkStuck(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1, SessionMaxAnswers: 8})
	kv := leaderOf(t, c, "k").kv
	for i := uint64(1); i <= 20; i++ {
		if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: sessKeyStr(testSessionID, i, 1)}); err != nil {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	if st := c.SessionStats(); st.Answers != 8 || st.Dropped != 12 {
		t.Fatalf("stats %+v, want 8 answers kept and 12 dropped", st)
	}
	_, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: sessKeyStr(testSessionID, 3, 1)})
	wantCode(t, err, connect.CodeOutOfRange, "idempotency session")
	if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), Value: []byte("v"), IdempotencyKey: sessKeyStr(testSessionID, 20, 1)}); err != nil {
		t.Fatalf("a retry of a kept answer: %v", err)
	}
}

// With SessionMax sessions all busy, a new client's write is refused;
// once one has been idle past the retry window it makes room.
func TestSessionTableFull(t *testing.T) {
	c, clk := startTest(t, Config{Nodes: 1, Shards: 1, SessionMax: 2, IdempotencyRetryWindow: time.Second})
	kv := leaderOf(t, c, "k").kv
	ids := []string{strings.Repeat("A", 22), strings.Repeat("B", 22), strings.Repeat("C", 22)}
	for _, id := range ids[:2] {
		if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), IdempotencyKey: sessKeyStr(id, 1, 1)}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), IdempotencyKey: sessKeyStr(ids[2], 1, 1)})
	wantCode(t, err, connect.CodeResourceExhausted, "Config.SessionMax")
	clk.advance(2 * time.Second)
	if _, err := kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("k"), IdempotencyKey: sessKeyStr(ids[2], 1, 1)}); err != nil {
		t.Fatal(err)
	}
	if st := c.SessionStats(); st.Sessions != 2 || st.Evicted != 1 {
		t.Fatalf("stats %+v, want 2 sessions, 1 evicted", st)
	}
}

// Sessions survive leadership moves (one table for the cluster) and, in
// durable mode, a restart: the answer is stored with the write.
func TestSessionSurvivesTransferAndRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := Config{Nodes: 3, Shards: 2, DataDir: dir}
	c1, _ := startTest(t, cfg)
	req := &v1.PutRequest{Key: []byte("a"), Value: []byte("once"), IdempotencyKey: sessKeyStr(testSessionID, 5, 5)}
	first, err := leaderOf(t, c1, "a").kv.Put(ctxT(t), req)
	if err != nil {
		t.Fatal(err)
	}
	// An answer the watermark then drops is deleted from disk too.
	old := &v1.PutRequest{Key: []byte("b"), Value: []byte("x"), IdempotencyKey: sessKeyStr(testSessionID, 4, 4)}
	if _, err := leaderOf(t, c1, "b").kv.Put(ctxT(t), old); err == nil {
		t.Fatal("a write below the watermark was applied")
	}
	shard := c1.shardFor([]byte("a")).id
	next := "n1"
	if c1.Leader(shard) == "n1" {
		next = "n2"
	}
	if err := c1.TransferLeader(shard, next); err != nil {
		t.Fatal(err)
	}
	again, err := leaderOf(t, c1, "a").kv.Put(ctxT(t), req)
	if err != nil || again.Version.GetIndex() != first.Version.GetIndex() {
		t.Fatalf("retry after a leader move = %v, %v; want %v", again.GetVersion(), err, first.Version)
	}
	c1.Close()

	c2, _ := startTest(t, cfg)
	again, err = leaderOf(t, c2, "a").kv.Put(ctxT(t), req)
	if err != nil || again.Version.GetIndex() != first.Version.GetIndex() || again.Version.GetTerm() != first.Version.GetTerm() {
		t.Fatalf("retry after a restart = %v, %v; want the first version %v", again.GetVersion(), err, first.Version)
	}
	_, err = leaderOf(t, c2, "b").kv.Put(ctxT(t), old)
	wantCode(t, err, connect.CodeOutOfRange, "idempotency session")
	// Write 6 moves the watermark past 5: its answer leaves the disk.
	if _, err := leaderOf(t, c2, "a").kv.Put(ctxT(t), &v1.PutRequest{Key: []byte("a"), Value: []byte("six"), IdempotencyKey: sessKeyStr(testSessionID, 6, 6)}); err != nil {
		t.Fatal(err)
	}
	c2.Close()
	c3, _ := startTest(t, cfg)
	_, err = leaderOf(t, c3, "a").kv.Put(ctxT(t), req)
	wantCode(t, err, connect.CodeOutOfRange, "idempotency session")
	if got := getKey(t, c3, "a"); string(got.Value) != "six" {
		t.Fatalf("a = %q, want six", got.Value)
	}
}

// The NoSessions defect is a server without sessions: no capability in
// its views, and session keys are opaque keys of the TTL cache.
func TestNoSessionsDefect(t *testing.T) {
	c, _ := startTest(t, Config{Nodes: 1, Shards: 1})
	if !wire.HasCapability(c.View(), wire.SessionCapability) {
		t.Fatalf("view capabilities %v, want %q", c.View().GetCapabilities(), wire.SessionCapability)
	}
	c.SetDefects(Defects{NoSessions: true})
	if caps := c.View().GetCapabilities(); len(caps) != 0 {
		t.Fatalf("view capabilities with NoSessions: %v, want none", caps)
	}
	kv := leaderOf(t, c, "k").kv
	req := &v1.PutRequest{Key: []byte("k"), IdempotencyKey: sessKeyStr(testSessionID, 1, 1)}
	if _, err := kv.Put(ctxT(t), req); err != nil {
		t.Fatal(err)
	}
	if st, n := c.SessionStats(), c.idem.size(); st.Sessions != 0 || n != 1 {
		t.Fatalf("%d sessions, %d TTL-cache keys; want 0 and 1", st.Sessions, n)
	}
}
