package norikv

import (
	"context"
	"errors"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/norikv/norikv-go/gen/norikv/v1/norikvv1connect"
	"github.com/norikv/norikv-go/internal/wire"
	"github.com/norikv/norikv-go/server"
)

// wireProtocols are the three protocols on the wire (the JSON and HTTP
// version variants of the protocols table add nothing here).
var wireProtocols = []protoCase{protocols[0], protocols[2], protocols[4]}

// A missing key is ErrKeyNotFound in both forms a server may use: the
// contract's OK with no version, and the older NOT_FOUND. A stored empty
// value keeps its version, so it is found.
func TestMissingKeyBothForms(t *testing.T) {
	for _, p := range wireProtocols {
		for _, notFound := range []bool{false, true} {
			name := p.name + "/ok-without-version"
			if notFound {
				name = p.name + "/not-found"
			}
			t.Run(name, func(t *testing.T) {
				fc := startServer(t, 1, 4)
				fc.SetDefects(server.Defects{MissingKeyNotFound: notFound})
				cl := newClient(t, fc, p.mod)
				ctx := context.Background()
				_, err := cl.Get(ctx, "missing")
				var e *Error
				if !errors.Is(err, ErrKeyNotFound) || !errors.As(err, &e) || e.Code != connect.CodeNotFound || e.Key != "missing" {
					t.Fatalf("Get(missing) err = %v, want ErrKeyNotFound", err)
				}
				v, err := cl.Put(ctx, "empty", nil)
				if err != nil {
					t.Fatal(err)
				}
				got, err := cl.Get(ctx, "empty")
				if err != nil || len(got.Value) != 0 || got.Version != v {
					t.Fatalf("Get(empty) = %+v, %v; want empty value at %v", got, err, v)
				}
			})
		}
	}
}

// notLeaderHint is a NOT_LEADER reply as the upstream servers and SDKs
// spell it: only a leader-hint header, in either form.
func notLeaderHint(hint string) error {
	err := connect.NewError(connect.CodeUnavailable, errors.New(wire.NotLeaderPrefix+": not the leader"))
	err.Meta().Set(wire.HeaderLeaderHint, hint)
	return err
}

// A NOT_LEADER reply that names a host outside the cluster view and the
// seeds is not followed: no connection is opened to it (it would carry the
// bearer token), and the call still succeeds through the view.
func TestForeignLeaderHintNotDialed(t *testing.T) {
	for _, p := range wireProtocols {
		for _, form := range []string{"detail+headers", "leader-hint"} {
			t.Run(p.name+"/"+form, func(t *testing.T) {
				foreign, accepted := tcpListener(t, false)
				fc := startServer(t, 3, 4)
				cl := newClient(t, fc, func(c *Config) {
					p.mod(c)
					c.BearerToken = "secret"
					c.Retry = RetryConfig{InitialDelay: time.Millisecond, Jitter: -1}
				})
				ctx := context.Background()
				if err := cl.Connect(ctx); err != nil {
					t.Fatal(err)
				}
				// The view says node 0 leads; node 1 really does, and every
				// other node names the foreign host as the leader.
				shard := cl.ShardForKey("k")
				mustDo(t, fc.SetLeaderQuiet(uint32(shard), "n2"))
				fc.SetFaults(func(_ context.Context, node string, proc string, _ any) error {
					if proc != norikvv1connect.KvPutProcedure || node == "n2" {
						return nil
					}
					if form == "leader-hint" {
						return notLeaderHint(foreign)
					}
					return wire.NewNotLeaderError(uint32(shard), "evil", foreign)
				})
				for i := range 5 {
					if _, err := cl.Put(ctx, "k", []byte{byte(i)}); err != nil {
						t.Fatalf("Put %d: %v", i, err)
					}
				}
				if n := accepted.Load(); n != 0 {
					t.Fatalf("the foreign host accepted %d connections", n)
				}
			})
		}
	}
}

// A leader-hint holding a node id (what older servers send) is resolved
// through the view and followed in one redirect.
func TestLeaderHintByNodeID(t *testing.T) {
	for _, p := range wireProtocols {
		t.Run(p.name, func(t *testing.T) {
			fc := startServer(t, 3, 4)
			cl := newClient(t, fc, p.mod)
			ctx := context.Background()
			if err := cl.Connect(ctx); err != nil {
				t.Fatal(err)
			}
			mustDo(t, fc.SetLeaderQuiet(uint32(cl.ShardForKey("k")), "n3"))
			fc.SetFaults(func(_ context.Context, node string, proc string, _ any) error {
				if proc == norikvv1connect.KvPutProcedure && node != "n3" {
					return notLeaderHint("n3")
				}
				return nil
			})
			if _, err := cl.Put(ctx, "k", []byte("v")); err != nil {
				t.Fatal(err)
			}
			if s := cl.Stats(); s.Requests.Redirects != 1 || s.Requests.Retries != 0 {
				t.Fatalf("redirects %d retries %d, want 1 0", s.Requests.Redirects, s.Requests.Retries)
			}
		})
	}
}
