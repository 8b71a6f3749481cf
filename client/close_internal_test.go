package norikv

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/norikv/norikv-go/server"
)

// A connection whose dial was still running when Close returned is closed
// as soon as it connects: net/http finishes a dial its request gave up on
// and pools the connection, which nobody would then close (a client and
// a server goroutine per connection, for as long as the process lives).
func TestCloseClosesConnectionsDialledLate(t *testing.T) {
	cl, err := server.Start(server.Config{Nodes: 1, Shards: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	baseline := goleak.IgnoreCurrent()
	c, err := New(Config{Nodes: cl.Addrs(), TotalShards: 1, DisableWatch: true})
	if err != nil {
		t.Fatal(err)
	}
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	c.dialer.d.Control = func(string, string, syscall.RawConn) error {
		once.Do(func() { close(entered) })
		<-release
		return nil
	}
	called := make(chan error, 1)
	go func() {
		_, err := c.Get(context.Background(), "k")
		called <- err
	}()
	<-entered
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-called; err == nil {
		t.Fatal("a Get cut by Close succeeded")
	}
	close(release) // the dial connects after Close returned
	deadline := time.Now().Add(5 * time.Second)
	for c.dialer.dialed.Load()+c.dialer.failed.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	goleak.VerifyNone(t, baseline)
	if n := c.dialer.active.Load(); n != 0 {
		t.Fatalf("%d connections open after Close", n)
	}
}
