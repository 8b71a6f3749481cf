package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/norikv/norikv-go/bench/proccpu"
	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/server"
)

// cluster is the NoriKV cluster under test: embedded in this process
// (*server.Cluster) or, with -server-process, in a child process of its
// own, as redis-server and production servers run.
type cluster interface {
	Addrs() []string
	Shards() int
	View() *v1.ClusterView
	Close() error
}

// childEnv makes this binary, re-executed, serve a cluster (childServe)
// instead of measuring.
const childEnv = "NORIKV_COMPARE_SERVE"

// hello is the child's one line on stdout: what it serves.
type hello struct {
	Addrs  []string `json:"addrs"`
	Shards int      `json:"shards"`
	View   []byte   `json:"view"` // a binary v1.ClusterView
	Echo   string   `json:"echo"` // the TCP echo server
}

// childServe is the child's main: start the cluster and an echo server,
// say where they are, and serve until stdin closes (the parent exited or
// closed it).
func childServe() error {
	stop, err := cpuProfile(os.Getenv(childEnv + "_CPUPROFILE"))
	if err != nil {
		return err
	}
	defer stop()
	nodes, _ := strconv.Atoi(os.Getenv(childEnv + "_NODES"))
	ttl, _ := time.ParseDuration(os.Getenv(childEnv + "_IDEM_TTL"))
	cl, err := server.Start(server.Config{Nodes: nodes, IdempotencyTTL: ttl})
	if err != nil {
		return err
	}
	defer cl.Close()
	echo, err := startEcho()
	if err != nil {
		return err
	}
	defer echo.Close()
	view, err := proto.Marshal(cl.View())
	if err != nil {
		return err
	}
	if err := json.NewEncoder(os.Stdout).Encode(hello{Addrs: cl.Addrs(), Shards: cl.Shards(), View: view, Echo: echo.Addr().String()}); err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, os.Stdin)
	return nil
}

// remoteCluster is a cluster served by a child process.
type remoteCluster struct {
	cmd   *exec.Cmd
	stdin io.Closer
	h     hello
	view  *v1.ClusterView
}

// cpuProfile starts a CPU profile written to path ("": none) and returns
// the function that ends it.
func cpuProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path) //nolint:gosec // G304: the path is the user's own profile flag
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// startRemote re-executes this binary as a cluster server, which writes
// a CPU profile of its whole life to cpuprofile if set.
func startRemote(nodes int, idemTTL time.Duration, cpuprofile string) (*remoteCluster, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	// G204: this very binary, re-executed as the server process; noctx: its
	// life is ended by Close (stdin closed, then a kill), not by a context.
	cmd := exec.Command(exe) //nolint:gosec,noctx // see above
	cmd.Env = append(os.Environ(), childEnv+"=1", childEnv+"_NODES="+strconv.Itoa(nodes), childEnv+"_IDEM_TTL="+idemTTL.String(), childEnv+"_CPUPROFILE="+cpuprofile)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	r := &remoteCluster{cmd: cmd, stdin: in, view: &v1.ClusterView{}}
	line, err := bufio.NewReader(out).ReadBytes('\n')
	if err == nil {
		err = json.Unmarshal(line, &r.h)
	}
	if err == nil {
		err = proto.Unmarshal(r.h.View, r.view)
	}
	if err != nil {
		r.Close()
		return nil, fmt.Errorf("server process: %w", err)
	}
	return r, nil
}

func (r *remoteCluster) Addrs() []string       { return r.h.Addrs }
func (r *remoteCluster) Shards() int           { return r.h.Shards }
func (r *remoteCluster) View() *v1.ClusterView { return r.view }

// ServerCPU is the server process's CPU time so far.
func (r *remoteCluster) ServerCPU() time.Duration { return proccpu.Of(r.cmd.Process.Pid) }

// Close ends the child (closing its stdin) and waits for it.
func (r *remoteCluster) Close() error {
	r.stdin.Close()
	done := make(chan error, 1)
	go func() { done <- r.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(5 * time.Second):
		_ = r.cmd.Process.Kill()
		return errors.Join(errors.New("server process did not stop; killed"), <-done)
	}
}

// startEcho listens on a loopback port and echoes every connection's bytes
// back: the floor of one request/response over TCP (the tcp-echo row).
func startEcho() (net.Listener, error) {
	ln, err := new(net.ListenConfig).Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				// A plain read/write loop: io.Copy between two TCP
				// connections would splice(2) through a pipe, slower
				// than the round trip it is meant to floor.
				buf := make([]byte, 64<<10)
				for {
					n, err := c.Read(buf)
					if n > 0 {
						if _, werr := c.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln, nil
}
