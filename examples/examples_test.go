// Package examples_test runs every program under examples/ and checks what
// it prints, and checks that README.md's code and commands are the tested
// ones (readme_test.go).
package examples_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	// goleak.VerifyTestMain would exit before the cleanup above.
	if err := goleak.Find(); code == 0 && err != nil {
		fmt.Fprintln(os.Stderr, "goleak:", err)
		code = 1
	}
	os.Exit(code)
}

// exampleOutputs are the examples and lines each must print (regexps,
// matched per line, in any order). Counts that depend on timing (lost CAS
// races, connections) are matched loosely.
var exampleOutputs = map[string][]string{
	"quickstart": {
		`^put user:alice at version \d+:\d+$`,
		`^value: Alice$`,
		`^after delete, not found: true$`,
	},
	"cas": {
		`^CAS with a stale version fails: true$`,
		`^counter after 4 writers x 10 increments: 40$`,
		`^lost races, retried: \d+$`,
	},
	"idempotency": {
		`^same version \(applied once\): true$`,
		`^a write without the key is new: true$`,
		`^server applied 2 puts and replayed 1$`,
	},
	"ttl": {
		`^before expiry: user-42$`,
		`^after 500ms the key expired: not found$`,
	},
	"topology": {
		`^nodes: 3$`,
		`^  n1 127\.0\.0\.1:\d+ \(voter\)$`,
		`^user:alice lives in shard \d+$`,
		`^topology changed: epoch \d+ -> \d+$`,
		`^  shard \d+ leader n\d -> n\d$`,
		`^put after the move: ok$`,
	},
	"stats": {
		`^total nodes: 3$`,
		`^total shards: 1024$`,
		`^cached leaders: 1024$`,
		`^requests: 21$`,
		`^failures: 0$`,
		`^active connections: [1-9]\d*$`,
		`^all in one line: pool: [1-9]\d* connections open, .*; requests: 21 total, .*$`,
	},
	"vectorsearch": {
		`^index created: true$`,
		`^inserted: 4$`,
		`^  red-running-shoes \(distance 0\.\d{4}\)$`,
		`^  blue-trail-shoes \(distance 0\.\d{4}\)$`,
		`^wool-hat found: true dimensions: 4$`,
		`^deleted: true found after delete: false$`,
		`^index dropped: true$`,
	},
	"errors": {
		`^missing key is ErrKeyNotFound: true$`,
		`^stale CAS is ErrVersionMismatch: true$`,
		`^empty key: invalid_argument in Put$`,
		`^with fallback: guest$`,
		`^unreachable node is a ConnectionError: true$`,
		`^attempts retried: [1-9]\d*$`,
	},
}

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// binaries builds every example and the norikv command once per test run,
// into a directory removed at exit. With -race they are built with -race
// too, which reuses the packages the test binary was compiled from instead
// of compiling everything a second time.
func binaries(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "norikv-examples-")
		if buildErr != nil {
			return
		}
		args := []string{"build", "-o", binDir + string(filepath.Separator)}
		if raceEnabled {
			args = append(args, "-race")
		}
		args = append(args, "./cmd/norikv")
		for name := range exampleOutputs {
			args = append(args, "./examples/"+name)
		}
		cmd := exec.Command("go", args...)
		cmd.Dir = ".."
		out, err := cmd.CombinedOutput()
		if err != nil {
			buildErr = &buildError{err, string(out)}
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binDir
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return "go build: " + e.err.Error() + "\n" + e.out }

// runBin runs a built binary with a generous deadline (the machine is
// shared) and returns its combined output and exit code.
func runBin(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, filepath.Join(binaries(t), name+exeSuffix()), args...)
	cmd.Env = binEnv()
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			t.Fatalf("%s %v: %v", name, args, err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

// binEnv is the binaries' environment: a -race binary otherwise sleeps a
// second at exit (GORACE atexit_sleep_ms), which adds up over 30 runs.
func binEnv() []string {
	return append(os.Environ(), "GORACE=atexit_sleep_ms=0")
}

func exeSuffix() string {
	if runtime.GOOS == "windows" {
		return ".exe"
	}
	return ""
}

// TestExamples runs every example against an embedded cluster shaped
// like the production server (gRPC, binary protobuf, HTTP/2 only), so an
// example that needs more than production offers fails here.
func TestExamples(t *testing.T) {
	binaries(t)
	for name, want := range exampleOutputs {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			out, code := runBin(t, name, "--grpc-only")
			if code != 0 {
				t.Fatalf("exit status %d; output:\n%s", code, out)
			}
			lines := strings.Split(out, "\n")
			for _, w := range want {
				re := regexp.MustCompile(w)
				found := false
				for _, l := range lines {
					found = found || re.MatchString(l)
				}
				if !found {
					t.Errorf("no line matches %s; output:\n%s", w, out)
				}
			}
		})
	}
}

// Every example directory is in the table above, so a new example cannot
// go untested.
func TestEveryExampleIsRun(t *testing.T) {
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dirs {
		if !d.IsDir() || d.Name() == "internal" || d.Name() == "testdata" {
			continue
		}
		if _, ok := exampleOutputs[d.Name()]; !ok {
			t.Errorf("examples/%s is not run by TestExamples", d.Name())
		}
	}
}

// A bad flag is a clear error (exit status 2, package flag's), a bad
// flag value one line with exit status 1; never a panic.
func TestExampleBadFlag(t *testing.T) {
	out, code := runBin(t, "quickstart", "--protocol", "smoke-signals")
	if code != 1 || !strings.Contains(out, `--protocol "smoke-signals"`) {
		t.Fatalf("status %d output %q", code, out)
	}
	out, code = runBin(t, "quickstart", "--nope")
	if code != 2 || !strings.Contains(out, "flag provided but not defined") {
		t.Fatalf("status %d output %q", code, out)
	}
}
