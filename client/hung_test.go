package norikv

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tcpListener accepts TCP connections and counts them. With hold it keeps
// them open and never answers, like a wedged process; else it closes each
// at once. It returns its address.
func tcpListener(t *testing.T, hold bool) (addr string, accepted *atomic.Int64) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	accepted = new(atomic.Int64)
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			if !hold {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return ln.Addr().String(), accepted
}

// One seed that accepts TCP and never answers, three healthy ones, the
// default timeouts (5s per call): Connect answers at once, and of 24 Puts
// none waits out the call's timeout, with or without a view.
func TestHungSeed(t *testing.T) {
	for _, p := range wireProtocols {
		for _, connectFirst := range []bool{true, false} {
			name := p.name + "/connect"
			if !connectFirst {
				name = p.name + "/no-view"
			}
			t.Run(name, func(t *testing.T) {
				fc := startServer(t, 3, 8)
				hung, _ := tcpListener(t, true)
				cfg := Config{
					Nodes:        append([]string{hung}, fc.Addrs()...),
					TotalShards:  fc.Shards(),
					DisableWatch: !connectFirst,
				}
				p.mod(&cfg)
				cl, err := New(cfg)
				if err != nil {
					t.Fatal(err)
				}
				defer cl.Close()
				ctx := context.Background()
				if connectFirst {
					start := time.Now()
					if err := cl.Connect(ctx); err != nil {
						t.Fatalf("Connect: %v after %v", err, time.Since(start))
					}
					el := time.Since(start)
					if el > time.Second {
						t.Fatalf("Connect took %v", el)
					}
					t.Logf("Connect returned nil after %v", el)
				}
				var slowest time.Duration
				for i := range 24 {
					start := time.Now()
					// Without a view the client knows no capability and
					// stamps no key: a write that timed out on the hung
					// seed would be an unknown outcome. The caller's key
					// makes it safe to retry elsewhere.
					var opts []PutOption
					if !connectFirst {
						opts = append(opts, WithIdempotencyKey(fmt.Sprintf("hung-%d", i)))
					}
					if _, err := cl.Put(ctx, fmt.Sprintf("key-%d", i), []byte("v"), opts...); err != nil {
						t.Fatalf("Put %d: %v after %v", i, err, time.Since(start))
					}
					slowest = max(slowest, time.Since(start))
				}
				if slowest >= DefaultTimeout/2 {
					t.Fatalf("slowest Put took %v", slowest)
				}
				t.Logf("slowest of 24 Puts: %v", slowest)
			})
		}
	}
}
