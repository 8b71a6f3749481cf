package norikv

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestCancelDuringAttemptReturnsPromptly(t *testing.T) {
	fc := startServer(t, 1, 4)
	fc.SetFaults(func(context.Context, string, string, any) error { time.Sleep(2 * time.Second); return nil })
	cl := newClient(t, fc, func(c *Config) { c.DisableWatch = true })
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(50*time.Millisecond, cancel)
	start := time.Now()
	_, err := cl.Get(ctx, "k")
	el := time.Since(start) - 50*time.Millisecond
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if el > time.Second {
		t.Fatalf("returned %v after cancel", el)
	}
	t.Logf("returned %v after cancel", el)
}

// With every seed down, Connect answers as soon as each seed has failed
// once, with the connection error, rather than waiting out its timeout
// (the background watch keeps trying).
func TestConnectFailsFastWhenClusterDown(t *testing.T) {
	fc := startServer(t, 2, 4)
	fc.Close()
	cl := newClient(t, fc, func(c *Config) { c.Timeout = time.Minute })
	start := time.Now()
	err := cl.Connect(context.Background())
	if _, ok := errors.AsType[*ConnectionError](err); !ok {
		t.Fatalf("err = %v, want a *ConnectionError", err)
	}
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Connect waited out its timeout: %v", err)
	}
	if el := time.Since(start); el > 30*time.Second {
		t.Fatalf("Connect took %v", el)
	}
}

// A node that accepts connections and never answers: Connect is bounded
// by its ctx.
func TestConnectHonoursCtxDeadline(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	cl, err := New(Config{Nodes: []string{ln.Addr().String()}, TotalShards: 4})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := cl.Connect(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestConnectWithoutWatchFetchesOnce(t *testing.T) {
	fc := startServer(t, 3, 4)
	mustDo(t, fc.LeadAll("n3"))
	cl := newClient(t, fc, func(c *Config) { c.DisableWatch = true })
	if err := cl.Connect(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := cl.ClusterView(); v == nil || v.Epoch != fc.Epoch() {
		t.Fatalf("view = %+v", v)
	}
	if cl.Stats().Topology.Watching {
		t.Fatal("watching with DisableWatch")
	}
}

func TestCloseDuringTraffic(t *testing.T) {
	fc := startServer(t, 3, 16)
	cl := newClient(t, fc, nil)
	_ = cl.OnTopologyChange(func(TopologyEvent) {})
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for i := range 200 {
				_, err := cl.Put(context.Background(), string(rune('a'+w))+string(rune('a'+i%26)), []byte("v"))
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("unexpected error: %v", err)
					return
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	cl.Close()
	wg.Wait()
}

type ctxKey struct{}

// Close ends calls in flight at once, whether they are waiting out a
// backoff between attempts on a dead node or waiting on a node that does
// not answer, for every kind of caller ctx; they return ErrClosed.
func TestCloseCancelsCallsInFlight(t *testing.T) {
	ctxs := map[string]func() (context.Context, context.CancelFunc){
		"background": func() (context.Context, context.CancelFunc) { return context.Background(), func() {} },
		"values": func() (context.Context, context.CancelFunc) {
			return context.WithValue(context.Background(), ctxKey{}, 1), func() {}
		},
		"deadline": func() (context.Context, context.CancelFunc) {
			return context.WithTimeout(context.Background(), time.Minute)
		},
	}
	for name, mkCtx := range ctxs {
		t.Run(name+"/backoff", func(t *testing.T) {
			fc := startServer(t, 1, 4)
			addr := fc.Addr("n1")
			mustDo(t, fc.StopNode("n1"))
			cl, err := New(Config{Nodes: []string{addr}, TotalShards: 4, DisableWatch: true, Timeout: time.Minute,
				Retry: RetryConfig{InitialDelay: 30 * time.Second, MaxDelay: time.Minute}})
			if err != nil {
				t.Fatal(err)
			}
			defer cl.Close()
			closeDuring(t, cl, mkCtx, func() bool { return cl.Stats().Pool.DialFailures > 0 })
		})
		t.Run(name+"/attempt", func(t *testing.T) {
			fc := startServer(t, 1, 4)
			release := make(chan struct{})
			t.Cleanup(func() { close(release) }) // runs before the cluster's Close
			var entered atomic.Bool
			fc.SetFaults(func(context.Context, string, string, any) error { entered.Store(true); <-release; return nil })
			cl := newClient(t, fc, func(c *Config) { c.DisableWatch = true; c.Timeout = time.Minute; c.Retry.AttemptTimeout = -1 })
			closeDuring(t, cl, mkCtx, entered.Load)
		})
	}
}

// closeDuring starts a Get, closes cl once inFlight holds, and checks the
// Get ends promptly after Close (within a second) with ErrClosed.
func closeDuring(t *testing.T, cl *Client, mkCtx func() (context.Context, context.CancelFunc), inFlight func() bool) {
	t.Helper()
	ctx, cancel := mkCtx()
	defer cancel()
	errc := make(chan error, 1)
	go func() { _, err := cl.Get(ctx, "k"); errc <- err }()
	waitFor(t, "the call in flight", inFlight)
	start := time.Now()
	cl.Close()
	select {
	case err := <-errc:
		el := time.Since(start)
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("err = %v, want ErrClosed", err)
		}
		// Close cancels the call at once; a second leaves room for a
		// loaded machine and still tells it from waiting out the call.
		if el > time.Second {
			t.Fatalf("call returned %v after Close", el)
		}
		t.Logf("returned %v after Close: %v", el, err)
	case <-time.After(5 * time.Second):
		t.Fatal("call still running 5s after Close")
	}
}
