package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// The tests in this file run the built norikv binary, as a user does: its
// stdout is a pipe, not a buffer, signals are real and the exit status is
// the process's.

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

// norikvBinary builds the command once per test run (with -race when the
// test binary has it, which reuses the compiled packages).
func norikvBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "norikv-cli-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "norikv")
		if runtime.GOOS == "windows" {
			binPath += ".exe"
		}
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		out, err := exec.Command("go", append(args, ".")...).CombinedOutput()
		if err != nil {
			buildErr = errors.New("go build: " + err.Error() + "\n" + string(out))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// binEnv: a -race binary otherwise sleeps a second at exit.
func binEnv() []string { return append(os.Environ(), "GORACE=atexit_sleep_ms=0") }

// binResult is one run of the binary.
type binResult struct {
	status         int
	stdout, stderr []byte
}

// exec runs the built binary with args (plus cmdArgs' --target and
// --timeout) and stdin.
func (c *cli) exec(stdin []byte, args ...string) binResult {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, norikvBinary(c.t), c.cmdArgs(args)...)
	cmd.Env = binEnv()
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		c.t.Fatalf("norikv %v: %v", args, err)
	}
	return binResult{cmd.ProcessState.ExitCode(), stdout.Bytes(), stderr.Bytes()}
}

// execOK runs the binary and fails unless it exits 0; it returns stdout.
func (c *cli) execOK(stdin []byte, args ...string) []byte {
	c.t.Helper()
	r := c.exec(stdin, args...)
	if r.status != 0 {
		c.t.Fatalf("norikv %v: status %d, stderr %q", args, r.status, r.stderr)
	}
	return r.stdout
}

// process is a long-running norikv (serve, watch) whose output lines the
// test reads as they come.
type process struct {
	t     *testing.T
	cmd   *exec.Cmd
	lines chan string // stdout and stderr, line by line, "out: " / "err: " prefixed
	done  chan struct{}
	mu    sync.Mutex
	seen  []string
}

func startBinary(t *testing.T, args ...string) *process {
	t.Helper()
	bin := norikvBinary(t)
	cmd := exec.Command(bin, args...)
	// As if installed: the serve banner's commands then say "norikv".
	cmd.Env = append(binEnv(), "PATH="+filepath.Dir(bin)+string(os.PathListSeparator)+os.Getenv("PATH"))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{t: t, cmd: cmd, lines: make(chan string, 1024), done: make(chan struct{})}
	var wg sync.WaitGroup
	for prefix, r := range map[string]io.Reader{"out: ": stdout, "err: ": stderr} {
		wg.Go(func() {
			sc := bufio.NewScanner(r)
			for sc.Scan() {
				p.lines <- prefix + sc.Text()
			}
		})
	}
	go func() { wg.Wait(); close(p.lines) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill() // it may have exited already
			p.wait()
		}
	})
	return p
}

// waitLine reads lines until one contains want, and returns it.
func (p *process) waitLine(want string) string {
	p.t.Helper()
	l, ok := p.waitLineOrEnd(want)
	if !ok {
		p.t.Fatalf("norikv ended before printing %q; it printed:\n%s", want, strings.Join(p.seen, "\n"))
	}
	return l
}

// waitLineOrEnd is waitLine that reports (false) the process ending first
// instead of failing the test.
func (p *process) waitLineOrEnd(want string) (string, bool) {
	p.t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case l, ok := <-p.lines:
			if !ok {
				return "", false
			}
			p.mu.Lock()
			p.seen = append(p.seen, l)
			p.mu.Unlock()
			if strings.Contains(l, want) {
				return l, true
			}
		case <-timeout:
			p.t.Fatalf("no line with %q within 30s; printed:\n%s", want, strings.Join(p.seen, "\n"))
		}
	}
}

// interrupt sends SIGINT (Ctrl-C) and returns the exit status.
func (p *process) interrupt() int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		p.t.Fatal(err)
	}
	return p.wait()
}

// wait drains the output and returns the exit status.
func (p *process) wait() int {
	for l := range p.lines {
		p.mu.Lock()
		p.seen = append(p.seen, l)
		p.mu.Unlock()
	}
	_ = p.cmd.Wait() // the caller reads the status from ProcessState
	close(p.done)
	return p.cmd.ProcessState.ExitCode()
}
