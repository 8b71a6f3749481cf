package main

import (
	"context"
	"io"
	"net"
	"sync"
)

// echoTarget is the tcp-echo row: each operation writes the value (a Get
// writes as many bytes) to an echo server and reads it back, one
// connection per worker. It is the floor of one round trip on this
// machine: no framing, no parsing, no server work.
type echoTarget struct {
	addr  string
	size  int
	mu    sync.Mutex
	conns []net.Conn // idle
	all   []net.Conn
}

func (e *echoTarget) roundTrip(ctx context.Context, b []byte) error {
	e.mu.Lock()
	var c net.Conn
	if n := len(e.conns); n > 0 {
		c, e.conns = e.conns[n-1], e.conns[:n-1]
	}
	e.mu.Unlock()
	if c == nil {
		var d net.Dialer
		var err error
		if c, err = d.DialContext(ctx, "tcp", e.addr); err != nil {
			return err
		}
		e.mu.Lock()
		e.all = append(e.all, c)
		e.mu.Unlock()
	}
	if _, err := c.Write(b); err != nil {
		return err
	}
	if _, err := io.ReadFull(c, b); err != nil {
		return err
	}
	e.mu.Lock()
	e.conns = append(e.conns, c)
	e.mu.Unlock()
	return nil
}

func (e *echoTarget) Put(ctx context.Context, _ string, value []byte) error {
	return e.roundTrip(ctx, append([]byte(nil), value...))
}

func (e *echoTarget) Get(ctx context.Context, _ string) (bool, error) {
	return true, e.roundTrip(ctx, make([]byte, e.size))
}

func (e *echoTarget) Close() {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, c := range e.all {
		c.Close()
	}
}
