// Package redisbench is the yardstick of the comparison: a local
// redis-server and two Go clients of it as loadgen.Targets, go-redis v9
// (a connection pool, one command per connection at a time) and rueidis
// (automatic pipelining: concurrent commands share connections and leave
// together). The server is started here, on a free loopback port, without
// persistence, and its CPU time is read from /proc so CPU per operation
// counts both sides, as it does for the NoriKV cluster.
package redisbench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os/exec"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/rueidis"

	"github.com/norikv/norikv-go/bench/proccpu"
	"github.com/norikv/norikv-go/internal/loadgen"
)

// ErrNoServer is returned by Start when redis-server is not installed.
var ErrNoServer = errors.New("redis-server not found on PATH (Debian: apt-get install -y redis-server)")

// Server is a redis-server process on a loopback port.
type Server struct {
	Addr string
	cmd  *exec.Cmd
}

// Start runs redis-server on a free port and waits until it answers.
func Start() (*Server, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoServer
	}
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	tcp, ok := ln.Addr().(*net.TCPAddr)
	ln.Close()
	if !ok {
		return nil, fmt.Errorf("redisbench: listener address %v is not TCP", ln.Addr())
	}
	port := tcp.Port
	// G204: bin is redis-server as found on PATH, the arguments are constants
	// and a port; noctx: the server lives until Close kills it, not a context.
	//nolint:gosec,noctx // see above
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s := &Server{Addr: "127.0.0.1:" + strconv.Itoa(port), cmd: cmd}
	c := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer c.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := c.Ping(context.Background()).Err(); err == nil {
			return s, nil
		} else if time.Now().After(deadline) {
			s.Close()
			return nil, fmt.Errorf("redis-server did not answer: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ServerCPU is redis-server's CPU time so far (user + system), 0 if
// unreadable.
func (s *Server) ServerCPU() time.Duration { return proccpu.Of(s.cmd.Process.Pid) }

// Close stops the server.
func (s *Server) Close() {
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
}

// GoRedis is a go-redis client of its own redis-server.
type GoRedis struct {
	*Server
	c *redis.Client
}

var _ loadgen.Target = (*GoRedis)(nil)

// StartGoRedis runs redis-server and connects a go-redis client with a
// pool of poolSize connections (go-redis's default is 10 per CPU).
func StartGoRedis(poolSize int) (*GoRedis, error) {
	s, err := Start()
	if err != nil {
		return nil, err
	}
	return &GoRedis{Server: s, c: redis.NewClient(&redis.Options{Addr: s.Addr, PoolSize: poolSize})}, nil
}

// Put is SET.
func (t *GoRedis) Put(ctx context.Context, key string, value []byte) error {
	return t.c.Set(ctx, key, value, 0).Err()
}

// Get is GET; redis.Nil is a miss.
func (t *GoRedis) Get(ctx context.Context, key string) (bool, error) {
	err := t.c.Get(ctx, key).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// Close stops the client and the server.
func (t *GoRedis) Close() {
	t.c.Close()
	t.Server.Close()
}

// Rueidis is a rueidis client, at its defaults (automatic pipelining of
// concurrent commands, no client-side cache), of its own redis-server.
type Rueidis struct {
	*Server
	c rueidis.Client
}

var _ loadgen.Target = (*Rueidis)(nil)

// StartRueidis runs redis-server and connects a rueidis client.
func StartRueidis() (*Rueidis, error) {
	s, err := Start()
	if err != nil {
		return nil, err
	}
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{s.Addr}, DisableCache: true})
	if err != nil {
		s.Close()
		return nil, err
	}
	return &Rueidis{Server: s, c: c}, nil
}

// Put is SET.
func (t *Rueidis) Put(ctx context.Context, key string, value []byte) error {
	return t.c.Do(ctx, t.c.B().Set().Key(key).Value(rueidis.BinaryString(value)).Build()).Error()
}

// Get is GET; a nil reply is a miss.
func (t *Rueidis) Get(ctx context.Context, key string) (bool, error) {
	err := t.c.Do(ctx, t.c.B().Get().Key(key).Build()).Error()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	return err == nil, err
}

// Close stops the client and the server.
func (t *Rueidis) Close() {
	t.c.Close()
	t.Server.Close()
}
