package reliability

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	norikv "github.com/norikv/norikv-go/client"
)

// crashServer is one `norikv serve --data-dir` process.
type crashServer struct {
	cmd   *exec.Cmd
	addrs []string
	done  chan struct{} // closed when the process has exited
}

// startCrashServer starts bin on dir with ephemeral ports and waits for
// its banner.
func startCrashServer(t *testing.T, bin, dir string) *crashServer {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--data-dir", dir, "--port", "0", "--nodes", "3", "--shards", "16", "--no-ui")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	s := &crashServer{cmd: cmd, done: make(chan struct{})}
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_ = cmd.Wait() // killed on purpose: "signal: killed" is expected
		close(s.done)
	}()
	timeout := time.After(30 * time.Second)
	for len(s.addrs) < 3 {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("norikv serve exited before printing its nodes")
			}
			if f := strings.Fields(l); len(f) == 2 && strings.HasPrefix(f[0], "n") && strings.Contains(f[1], ":") {
				s.addrs = append(s.addrs, f[1])
			}
		case <-timeout:
			s.kill()
			t.Fatal("norikv serve printed no banner in 30 s")
		}
	}
	go func() {
		for range lines { // drain the rest of the banner
		}
	}()
	return s
}

// kill is kill -9, and waits until the process is gone.
func (s *crashServer) kill() {
	_ = s.cmd.Process.Kill() // done tells when it is gone
	<-s.done
}

// crashWrite is one write of the crash test: a put of a key of its own
// (or of the worker's hot key) under an idempotency key.
type crashWrite struct {
	key, value, idem string
	acked            bool
	version          norikv.Version
}

// TestCrashDurability kills `norikv serve --data-dir` with SIGKILL at
// random points while clients write, restarts it on the same directory
// and checks that every acknowledged write is there with its version, that
// an unacknowledged one is either absent or whole, and that replaying an
// acknowledged write's idempotency key answers its first version.
func TestCrashDurability(t *testing.T) {
	crashes, writers := 5, 6
	if testing.Short() {
		crashes = 3
	}
	bin := filepath.Join(t.TempDir(), "norikv")
	// Built without -race even in a race run: the test is about what
	// reaches the disk, and the plain build is cached and fast.
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/norikv").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	var all []*crashWrite
	hot := map[string][]*crashWrite{} // per hot key, writes in order
	srv := startCrashServer(t, bin, dir)
	lost := 0
	for cycle := 0; cycle <= crashes; cycle++ {
		cl, err := norikv.New(norikv.Config{Nodes: srv.addrs, Timeout: time.Second,
			Retry: norikv.RetryConfig{MaxAttempts: 2, InitialDelay: 5 * time.Millisecond, MaxDelay: 20 * time.Millisecond, AttemptTimeout: 500 * time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		if cycle > 0 {
			lost += verifyCrash(t, cl, all, hot, cycle)
		}
		if cycle == crashes {
			cl.Close()
			break
		}
		ctx, cancel := context.WithCancel(context.Background())
		var (
			mu sync.Mutex
			wg sync.WaitGroup
		)
		for w := range writers {
			wg.Go(func() {
				hotKey := fmt.Sprintf("hot-%d", w)
				for i := 0; ctx.Err() == nil; i++ {
					cw := &crashWrite{key: fmt.Sprintf("k-%d-%d-%d", cycle, w, i), value: fmt.Sprintf("value-%d-%d-%d-%s", cycle, w, i, strings.Repeat("x", i%64)), idem: fmt.Sprintf("idem-%d-%d-%d", cycle, w, i)}
					if i%3 == 0 {
						cw.key = hotKey
					}
					v, err := cl.Put(ctx, cw.key, []byte(cw.value), norikv.WithIdempotencyKey(cw.idem))
					cw.acked, cw.version = err == nil, v
					mu.Lock()
					all = append(all, cw)
					if cw.key == hotKey {
						hot[hotKey] = append(hot[hotKey], cw)
					}
					mu.Unlock()
				}
			})
		}
		time.Sleep(time.Duration(100+rng.IntN(500)) * time.Millisecond) // a random point in the writes
		srv.kill()
		cancel()
		wg.Wait()
		cl.Close()
		srv = startCrashServer(t, bin, dir)
	}
	srv.kill()
	acked := 0
	for _, w := range all {
		if w.acked {
			acked++
		}
	}
	t.Logf("crash test: %d writes attempted, %d acknowledged, %d crashes (kill -9), %d lost", len(all), acked, crashes, lost)
	if acked == 0 {
		t.Fatal("no write was acknowledged")
	}
}

// verifyCrash checks the restarted server against every write so far and
// returns how many acknowledged writes it lost.
func verifyCrash(t *testing.T, cl *norikv.Client, all []*crashWrite, hot map[string][]*crashWrite, cycle int) (lost int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lin := norikv.WithConsistency(norikv.ConsistencyLinearizable)
	for _, w := range all {
		if strings.HasPrefix(w.key, "hot-") {
			continue
		}
		got, err := cl.Get(ctx, w.key, lin)
		switch {
		case errors.Is(err, norikv.ErrKeyNotFound):
			if w.acked {
				lost++
				t.Errorf("after crash %d: acknowledged write of %s at %v is lost", cycle, w.key, w.version)
			}
		case err != nil:
			t.Fatalf("after crash %d: get %s: %v", cycle, w.key, err)
		case string(got.Value) != w.value:
			t.Errorf("after crash %d: %s = %q, want %q (half-applied?)", cycle, w.key, got.Value, w.value)
		case w.acked && got.Version != w.version:
			lost++
			t.Errorf("after crash %d: %s is at %v, acknowledged at %v", cycle, w.key, got.Version, w.version)
		}
	}
	for key, ws := range hot {
		var last *crashWrite
		byValue := map[string]*crashWrite{}
		for _, w := range ws {
			byValue[w.value] = w
			if w.acked {
				last = w
			}
		}
		got, err := cl.Get(ctx, key, lin)
		if err != nil {
			if last != nil {
				lost++
				t.Errorf("after crash %d: %s: %v, but %v was acknowledged", cycle, key, err, last.version)
			}
			continue
		}
		w := byValue[string(got.Value)]
		switch {
		case w == nil:
			t.Errorf("after crash %d: %s = %q, which no write wrote", cycle, key, got.Value)
		case last != nil && got.Version.Index < last.version.Index:
			lost++
			t.Errorf("after crash %d: %s at %v is older than the acknowledged %v", cycle, key, got.Version, last.version)
		case w.acked && got.Version != w.version:
			t.Errorf("after crash %d: %s = %q at %v, acknowledged at %v", cycle, key, got.Value, got.Version, w.version)
		}
	}
	// Replays: the latest acknowledged writes (within the idempotency
	// window) answer their first version, and apply nothing.
	replayed := 0
	for i := len(all) - 1; i >= 0 && replayed < 100; i-- {
		w := all[i]
		if !w.acked {
			continue
		}
		replayed++
		v, err := cl.Put(ctx, w.key, []byte(w.value), norikv.WithIdempotencyKey(w.idem))
		if err != nil || v != w.version {
			t.Errorf("after crash %d: replay of %s (%s) = %v, %v; want its first version %v", cycle, w.key, w.idem, v, err, w.version)
		}
	}
	return lost
}
