package norikv

import (
	"net"
	"sync"
	"time"
)

// coalescingConn merges the writes of an HTTP/2 connection into fewer
// syscalls. net/http's HTTP/2 client flushes its buffer to the connection
// twice per unary request (after the HEADERS frame and after the DATA
// frame, both under the connection's write lock), so each call costs two
// write syscalls however many calls share the connection; grpc-go instead
// hands frames to one writer goroutine that writes whatever has
// accumulated. This does the same below net/http: Write appends to a
// buffer and returns, and the connection's writer goroutine writes the
// buffer out whenever it is not empty, so the frames of every stream that
// wrote meanwhile (and a request's HEADERS and DATA) leave in one syscall.
//
// While its client has few requests being sent (quiet), a Write
// finding nothing queued and no write in progress goes straight to the
// socket instead: with nothing to merge with, handing it to the writer
// goroutine would only add a wake-up to the call's latency.
//
// A write error is sticky: it fails every later Write, and the connection
// is closed so its reader fails too and net/http drops the connection and
// fails its streams, as it would have on the failed Write itself. Writers
// block while maxPending bytes wait, so a peer that stops reading holds
// back its writers instead of growing the buffer.
type coalescingConn struct {
	net.Conn

	mu      sync.Mutex
	cond    sync.Cond // signalled when buf is taken or the conn fails
	buf     []byte    // waiting to be written
	spare   []byte    // the writer's buffer, swapped with buf
	err     error     // sticky: the first write error, or net.ErrClosed
	closing bool      // Close was called: write what is queued, then stop
	busy    bool      // a write to the socket is in progress (either path)
	quiet   func() bool
	wake    chan struct{}
	stopped chan struct{} // closed when the writer goroutine returns
}

// maxPending bounds the bytes waiting to be written before Write blocks.
const maxPending = 1 << 20

// newCoalescingConn wraps c. quiet (nil: never) reports whether a Write
// may go straight to the socket when nothing else is queued.
func newCoalescingConn(c net.Conn, quiet func() bool) *coalescingConn {
	cc := &coalescingConn{Conn: c, quiet: quiet, wake: make(chan struct{}, 1), stopped: make(chan struct{})}
	cc.cond.L = &cc.mu
	go cc.writeLoop()
	return cc
}

// Write queues p and returns; the writer goroutine sends it. When quiet
// it writes p itself.
func (c *coalescingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	for c.err == nil && len(c.buf) > maxPending {
		c.cond.Wait()
	}
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return 0, err
	}
	if !c.busy && len(c.buf) == 0 && c.quiet != nil && c.quiet() {
		c.busy = true
		c.mu.Unlock()
		n, err := c.Conn.Write(p)
		c.mu.Lock()
		c.busy = false
		queued := len(c.buf) > 0
		c.mu.Unlock()
		if err != nil {
			c.fail(err)
			c.Conn.Close()
			return n, err
		}
		if queued { // written meanwhile: the writer goroutine stood aside
			c.signal()
		}
		return n, nil
	}
	wasEmpty := len(c.buf) == 0
	c.buf = append(c.buf, p...)
	c.mu.Unlock()
	if wasEmpty {
		c.signal()
	}
	return len(p), nil
}

// signal wakes the writer goroutine.
func (c *coalescingConn) signal() {
	select {
	case c.wake <- struct{}{}:
	default: // already woken
	}
}

// writeLoop writes out whatever is queued until the conn fails or closes.
func (c *coalescingConn) writeLoop() {
	defer close(c.stopped)
	for range c.wake {
		for {
			c.mu.Lock()
			if c.err != nil && !c.closing || len(c.buf) == 0 && c.closing {
				c.mu.Unlock()
				return
			}
			if len(c.buf) == 0 || c.busy {
				// Nothing to do, or a direct Write is on the socket: it
				// signals again when done if anything queued meanwhile.
				c.mu.Unlock()
				break
			}
			c.buf, c.spare = c.spare[:0], c.buf
			c.busy = true
			c.cond.Broadcast()
			c.mu.Unlock()
			_, err := c.Conn.Write(c.spare)
			c.mu.Lock()
			c.busy = false
			c.mu.Unlock()
			if err != nil {
				c.fail(err)
				c.Conn.Close()
				return
			}
			if cap(c.spare) > 4*maxPending {
				c.spare = nil // do not keep a burst's buffer for ever
			}
		}
	}
}

// fail records err as the sticky error, unless one is there, and wakes
// blocked writers.
func (c *coalescingConn) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.cond.Broadcast()
	c.mu.Unlock()
}

// Close writes out what is queued (as closing a socket still sends its
// buffer; a peer that does not take it within closeFlush loses it), stops
// the writer goroutine and closes the connection. Later Writes fail.
func (c *coalescingConn) Close() error {
	c.mu.Lock()
	c.closing = true
	if c.err == nil {
		c.err = net.ErrClosed
	}
	c.cond.Broadcast()
	c.mu.Unlock()
	_ = c.SetWriteDeadline(time.Now().Add(closeFlush))
	c.signal()
	<-c.stopped
	return c.Conn.Close()
}

// closeFlush bounds how long Close waits for queued bytes to be written.
const closeFlush = time.Second
