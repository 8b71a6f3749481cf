package conformance

import (
	"context"
	"net"
	"sync/atomic"
	"testing"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/routing"
	"github.com/norikv/norikv-go/server"
)

// TestRoutedIgnoresForeignHint: a NOT_LEADER reply naming an address the
// cluster does not list is not dialled (the target's token would go with
// it); the call still reaches the leader through the node id and the view.
func TestRoutedIgnoresForeignHint(t *testing.T) {
	t.Parallel()
	foreign, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer foreign.Close()
	var dialled atomic.Int32
	go func() {
		for {
			conn, err := foreign.Accept()
			if err != nil {
				return
			}
			dialled.Add(1)
			conn.Close()
		}
	}()
	fc := startServer(t, 3, 8, server.Defects{ForeignLeaderHint: foreign.Addr().String()})
	ctx := context.Background()
	r, err := newRunner(ctx, Target{Addrs: fc.Addrs(), Token: "secret"}, Options{}, AllTransports())
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	tr := Transport{ProtocolConnect, CodecProto, HTTP1}
	c := &cell{ctx: ctx, r: r, d: r.dialers[tr], t: tr, tag: r.prefix + "foreign/"}
	defer c.cleanup()
	k := c.key("k")
	c.cleanupKey(k)
	// Make the suite believe a follower leads k's shard, so its first try
	// is refused with the foreign hint.
	s := uint32(routing.Shard(k, r.totalShards))
	r.mu.Lock()
	leader := r.leaders[s]
	for id := range r.addrs {
		if id != leader {
			r.leaders[s] = id
			break
		}
	}
	r.mu.Unlock()
	if _, err := c.put(&v1.PutRequest{Key: k, Value: []byte("v")}); err != nil {
		t.Fatalf("put after a foreign hint: %s", describe(err))
	}
	if n := dialled.Load(); n != 0 {
		t.Fatalf("the suite opened %d connections to the foreign host a NOT_LEADER reply named", n)
	}
}
