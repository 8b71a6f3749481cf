package examples_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// installBlocks returns the README's commands for using the SDK from a
// clone: the workspace setup, the replace setup, and the tidy that
// follows the replace once code imports the SDK.
func installBlocks(t *testing.T) (workspace, replace, tidy string) {
	t.Helper()
	for _, b := range readmeBlocks(t, "sh") {
		switch {
		case strings.Contains(b, "go work init"):
			workspace = b
		case replace == "" && strings.Contains(b, "-replace="):
			replace = b // the SDK's; a later one is the otel module's
		case b == "go mod tidy\n":
			tidy = b
		}
	}
	if workspace == "" || replace == "" || tidy == "" {
		t.Fatal("README.md lacks the install-from-a-clone blocks (go work init; go mod edit -replace; go mod tidy)")
	}
	return workspace, replace, tidy
}

// isInstallCommand reports whether line is one of the install blocks'
// commands, which TestInstallFromClone runs.
func isInstallCommand(t *testing.T, line string) bool {
	w, r, tidy := installBlocks(t)
	for _, b := range []string{w, r, tidy} {
		if strings.Contains("\n"+b, "\n"+line+"\n") {
			return true
		}
	}
	return false
}

const scratchMain = `package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	norikv "github.com/norikv/norikv-go/client"
)

func run(ctx context.Context, nodes []string, shards int) (string, error) {
	client, err := norikv.New(norikv.Config{Nodes: nodes, TotalShards: shards})
	if err != nil {
		return "", err
	}
	defer client.Close()
	if _, err := client.Put(ctx, "greeting", []byte("hello from a scratch module")); err != nil {
		return "", err
	}
	res, err := client.Get(ctx, "greeting")
	if err != nil {
		return "", err
	}
	return string(res.Value), nil
}

func main() {
	v, err := run(context.Background(), strings.Split(os.Args[1], ","), 1024)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(v)
}
`

const scratchTest = `package main

import (
	"context"
	"testing"

	"github.com/norikv/norikv-go/norikvtest"
)

func TestAgainstEmbeddedCluster(t *testing.T) {
	cluster := norikvtest.Start(t, norikvtest.WithShards(16))
	got, err := run(context.Background(), cluster.Addrs(), 16)
	if err != nil || got != "hello from a scratch module" {
		t.Fatalf("run = %q, %v", got, err)
	}
}
`

// A scratch module uses the SDK from a clone exactly as the README says
// (both ways), and its program runs against an embedded cluster. The
// clone's dependencies come from the module cache, or the module proxy for
// what the scratch module's tidy needs beyond the clone's own build.
func TestInstallFromClone(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	workspace, replace, tidy := installBlocks(t)
	for _, tc := range []struct {
		name, setup, after string
		env                []string
	}{
		// -mod=mod is refused in workspace mode; the workspace needs none.
		{"workspace", workspace, "", []string{"GOFLAGS=", "GOWORK="}},
		{"replace", replace, tidy, []string{"GOFLAGS=-mod=mod", "GOWORK=off"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// The checksum database is not asked: CI reaches only the
			// module proxy (a user online verifies as usual).
			env := append(os.Environ(), "GOSUMDB=off", "GOTOOLCHAIN=local")
			env = append(env, tc.env...)
			sh := func(dir, script string) {
				t.Helper()
				cmd := exec.Command("bash", "-euc", script)
				cmd.Dir, cmd.Env = dir, env
				if out, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s\n%v:\n%s", script, err, out)
				}
			}
			// The clone is this tree, as it is now (a fresh clone would
			// be the last commit).
			var script []string
			for _, line := range strings.Split(strings.TrimSpace(tc.setup), "\n") {
				if strings.HasPrefix(line, "git clone ") {
					line = "ln -s " + root + " norikv-go"
				}
				script = append(script, line)
			}
			sh(dir, strings.Join(script, "\n"))
			app := filepath.Join(dir, "myapp")
			for name, src := range map[string]string{"main.go": scratchMain, "main_test.go": scratchTest} {
				if err := os.WriteFile(filepath.Join(app, name), []byte(src), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if tc.after != "" {
				sh(app, tc.after)
			}
			race := ""
			if raceEnabled {
				race = "-race " // reuses the packages this test was built from
			}
			sh(app, "go test "+race+"-count=1 .")
		})
	}
}
