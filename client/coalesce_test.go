package norikv

import (
	"errors"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Concurrent writers' bytes all arrive, each write whole and in the order
// its writer made them, and Close sends what was still queued: queued
// (never quiet), written directly whenever possible (always quiet), and
// the two mixed.
func TestCoalescingConnDeliversEveryWrite(t *testing.T) {
	var flip atomic.Uint32
	quiets := map[string]func() bool{
		"queued": nil,
		"direct": func() bool { return true },
		"mixed":  func() bool { return flip.Add(1)%2 == 0 },
	}
	for name, quiet := range quiets {
		t.Run(name, func(t *testing.T) { testCoalescingDelivery(t, quiet) })
	}
}

func testCoalescingDelivery(t *testing.T, quiet func() bool) {
	a, b := net.Pipe()
	c := newCoalescingConn(a, quiet)
	got := make(chan []byte)
	go func() {
		all, _ := io.ReadAll(b)
		got <- all
	}()
	const writers, each = 8, 200
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				msg := []byte{'<', byte('a' + w), byte(i), byte(i >> 8), '>'}
				if n, err := c.Write(msg); n != len(msg) || err != nil {
					t.Errorf("Write = %d, %v", n, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	all := <-got
	if len(all) != writers*each*5 {
		t.Fatalf("read %d bytes, want %d", len(all), writers*each*5)
	}
	next := make([]int, writers)
	for len(all) > 0 {
		m := all[:5]
		all = all[5:]
		w := int(m[1] - 'a')
		if m[0] != '<' || m[4] != '>' || w < 0 || w >= writers {
			t.Fatalf("torn write %q", m)
		}
		if i := int(m[2]) | int(m[3])<<8; i != next[w] {
			t.Fatalf("writer %d: message %d arrived where %d was due", w, i, next[w])
		}
		next[w]++
	}
	if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("Write after Close = %v, want net.ErrClosed", err)
	}
}

// A failed write fails every later Write and closes the connection, so its
// reader (net/http's read loop) fails too and the connection is dropped.
func TestCoalescingConnWriteErrorIsSticky(t *testing.T) {
	a, b := net.Pipe()
	c := newCoalescingConn(a, nil)
	defer c.Close()
	b.Close() // the peer is gone: the writer's next Write fails
	_, _ = c.Write([]byte("lost"))
	deadline := time.Now().Add(10 * time.Second)
	var err error
	for err == nil && time.Now().Before(deadline) {
		_, err = c.Write([]byte("more"))
		time.Sleep(time.Millisecond)
	}
	if err == nil {
		t.Fatal("writes kept succeeding after the peer closed")
	}
	if _, rerr := c.Read(make([]byte, 1)); rerr == nil {
		t.Fatal("Read succeeded on a connection whose write failed")
	}
}

// A peer that stops reading holds writers back at maxPending instead of
// letting the queue grow; Close still returns (within closeFlush).
func TestCoalescingConnBoundsQueue(t *testing.T) {
	a, b := net.Pipe() // unbuffered: nothing is taken while b is not read
	defer b.Close()
	c := newCoalescingConn(a, nil)
	chunk := make([]byte, 64<<10)
	done := make(chan int)
	go func() {
		n := 0
		for {
			if _, err := c.Write(chunk); err != nil {
				done <- n
				return
			}
			n += len(chunk)
		}
	}()
	time.Sleep(100 * time.Millisecond) // let the writer fill the queue
	c.mu.Lock()
	queued := len(c.buf)
	c.mu.Unlock()
	if queued > maxPending+len(chunk) {
		t.Fatalf("%d bytes queued, bound %d", queued, maxPending)
	}
	start := time.Now()
	_ = c.Close()
	if n := <-done; n > 2*maxPending+2*len(chunk) {
		t.Fatalf("%d bytes accepted by a peer that reads nothing", n)
	}
	if el := time.Since(start); el > 5*closeFlush {
		t.Fatalf("Close took %v", el)
	}
}
