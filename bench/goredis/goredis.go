// Package goredis is the go-redis v9 client against a local redis-server,
// as a loadgen.Target: the yardstick of the comparison. The server is
// started here, on a free loopback port, without persistence, and its CPU
// time is read from /proc so CPU per operation counts both sides, as it
// does for the in-process NoriKV cluster.
package goredis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Target is a go-redis client and the redis-server it talks to.
type Target struct {
	c   *redis.Client
	cmd *exec.Cmd
}

// ErrNoServer is returned by Start when redis-server is not installed.
var ErrNoServer = errors.New("redis-server not found on PATH (Debian: apt-get install -y redis-server)")

// Start runs redis-server and connects a client with a pool of poolSize
// connections (go-redis's default is 10 per CPU).
func Start(poolSize int) (*Target, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNoServer
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no")
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	t := &Target{cmd: cmd, c: redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port), PoolSize: poolSize})}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := t.c.Ping(context.Background()).Err(); err == nil {
			return t, nil
		} else if time.Now().After(deadline) {
			t.Close()
			return nil, fmt.Errorf("redis-server did not answer: %w", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Put is SET.
func (t *Target) Put(ctx context.Context, key string, value []byte) error {
	return t.c.Set(ctx, key, value, 0).Err()
}

// Get is GET; redis.Nil is a miss.
func (t *Target) Get(ctx context.Context, key string) (bool, error) {
	err := t.c.Get(ctx, key).Err()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return err == nil, err
}

// ServerCPU is redis-server's CPU time so far (user + system), 0 if
// unreadable.
func (t *Target) ServerCPU() time.Duration {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(t.cmd.Process.Pid) + "/stat")
	if err != nil {
		return 0
	}
	s := string(b)
	// Fields after the ")" that ends the command name: utime is the 12th,
	// stime the 13th (fields 14 and 15 of proc(5)).
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	const ticksPerSecond = 100 // USER_HZ on Linux
	return time.Duration(u+st) * time.Second / ticksPerSecond
}

// Close stops the client and the server.
func (t *Target) Close() {
	t.c.Close()
	_ = t.cmd.Process.Kill()
	_ = t.cmd.Wait()
}
