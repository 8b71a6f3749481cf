package examples_test

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/norikv/norikv-go/norikvtest"
)

// readme returns README.md's fenced blocks of one language, in order.
func readmeBlocks(t *testing.T, lang string) []string {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var blocks []string
	var cur *strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		line := sc.Text()
		switch {
		case cur == nil && line == "```"+lang:
			cur = &strings.Builder{}
		case cur != nil && line == "```":
			blocks = append(blocks, cur.String())
			cur = nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	if cur != nil {
		t.Fatalf("README.md: unterminated ```%s block", lang)
	}
	return blocks
}

// Every Go block of the README is a verbatim copy of declarations in
// readme_snippets_test.go, which compiles and whose tests and Examples run
// them.
func TestReadmeGoBlocks(t *testing.T) {
	src, err := os.ReadFile("readme_snippets_test.go")
	if err != nil {
		t.Fatal(err)
	}
	// The otel module's snippet cannot compile here (this module has no
	// OpenTelemetry dependency): its copy is in the module's example.
	otelSrc, err := os.ReadFile("../otel/example_test.go")
	if err != nil {
		t.Fatal(err)
	}
	src = append(src, otelSrc...)
	blocks := readmeBlocks(t, "go")
	if len(blocks) < 10 {
		t.Fatalf("README.md has %d Go blocks; expected the quick start and friends", len(blocks))
	}
	for _, b := range blocks {
		if !strings.Contains(string(src), b) {
			first, _, _ := strings.Cut(b, "\n")
			t.Errorf("README Go block starting %q is not in readme_snippets_test.go verbatim", first)
		}
	}
}

// README links to files of the repository point at files that exist.
func TestReadmeLinks(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range regexp.MustCompile(`\]\(([^)#:]+)\)`).FindAllStringSubmatch(string(b), -1) {
		if _, err := os.Stat(filepath.Join("..", m[1])); err != nil {
			t.Errorf("README links to %s: %v", m[1], err)
		}
	}
}

// Every command of the README's sh blocks is covered: cheap ones are run
// (against an embedded cluster where they need one), expensive ones (the
// whole check script, benchmarks, fuzzing) are checked to exist: the
// script, the package, the named tests, benchmarks and fuzz targets.
func TestReadmeCommands(t *testing.T) {
	var cmds []string
	for _, b := range readmeBlocks(t, "sh") {
		for line := range strings.SplitSeq(b, "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				cmds = append(cmds, line)
			}
		}
	}
	if len(cmds) < 20 {
		t.Fatalf("README.md has %d commands; expected more", len(cmds))
	}
	// One cluster for every command that needs one, in README order (put
	// before get, vector create before insert).
	cluster := norikvtest.Start(t)
	target := strings.Join(cluster.Addrs(), ",")
	for _, line := range cmds {
		words := shellWords(line)
		var env []string
		for len(words) > 0 && regexp.MustCompile(`^[A-Z_]+=`).MatchString(words[0]) {
			env = append(env, words[0])
			words = words[1:]
		}
		t.Run(line, func(t *testing.T) {
			if !coverCommand(t, words, env, target) {
				t.Errorf("README command %q is covered by no check in readme_test.go; add one", line)
			}
		})
	}
}

// coverCommand checks one command and reports whether it knew how.
func coverCommand(t *testing.T, w []string, env []string, target string) bool {
	join := strings.Join(w, " ")
	switch {
	case isInstallCommand(t, join):
		// run by TestInstallFromClone, from a scratch module
	case join == "go get github.com/norikv/norikv-go":
		mustContain(t, "../go.mod", "module github.com/norikv/norikv-go\n")
	case join == "go install ./cmd/norikv":
		mustContain(t, "../cmd/norikv/main.go", "package main")
	case join == "bash scripts/check.sh":
		mustContain(t, "../scripts/check.sh", "go test -race")
		mustContain(t, "../.ci/run", "bash scripts/check.sh")
	case join == "go get github.com/norikv/norikv-go/otel":
		mustContain(t, "../otel/go.mod", "module github.com/norikv/norikv-go/otel\n")
	case join == "go mod edit -require=github.com/norikv/norikv-go/otel@v0.0.0 -replace=github.com/norikv/norikv-go/otel=../norikv-go/otel":
		// The otel module from a clone: its own replace of the SDK is
		// ignored in a dependency, hence the README's second line (the
		// SDK's replace, which TestInstallFromClone runs).
		mustContain(t, "../otel/go.mod", "module github.com/norikv/norikv-go/otel\n")
		mustContain(t, "../otel/go.mod", "github.com/norikv/norikv-go v0.0.0\n")
		mustContain(t, "../otel/go.mod", "replace github.com/norikv/norikv-go => ../\n")
	case join == "go -C otel test -run ExampleInstrument -v":
		mustContain(t, "../otel/example_test.go", "func ExampleInstrument() {")
		mustContain(t, "../scripts/check.sh", "(cd otel && go test -race")
	case len(w) >= 5 && strings.Join(w[:5], " ") == "go -C bench run ./cmd/compare":
		// A full comparison takes minutes (and the bench module's
		// grpc-go): the program and every flag the command passes must
		// exist, with a value where the flag takes one.
		const src = "../bench/cmd/compare/main.go"
		mustContain(t, src, "package main")
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		for i := 5; i < len(w); i++ {
			name, ok := strings.CutPrefix(w[i], "-")
			if !ok {
				t.Fatalf("%q: %q is no flag", join, w[i])
			}
			kind := `Bool`
			if i+1 < len(w) && !strings.HasPrefix(w[i+1], "-") {
				kind, i = `(?:String|Int|Duration|Float64)`, i+1
			}
			if !regexp.MustCompile(`flag\.` + kind + `\("` + regexp.QuoteMeta(name) + `",`).Match(b) {
				t.Fatalf("%q: %s defines no flag -%s of that kind (flag.%s)", join, src, name, kind)
			}
		}
	case strings.HasPrefix(join, "go tool -modfile=tools/go.mod github.com/bufbuild/buf/cmd/buf"):
		mustContain(t, "../tools/go.mod", "github.com/bufbuild/buf/cmd/buf")
		mustContain(t, "../buf.gen.yaml", "plugins")
	case len(w) >= 3 && w[0] == "go" && w[1] == "run" && strings.HasPrefix(w[2], "./examples/"):
		name := strings.TrimPrefix(w[2], "./examples/")
		if _, ok := exampleOutputs[name]; !ok {
			t.Fatalf("examples/%s is not an example TestExamples runs", name)
		}
		if len(w) > 3 { // without flags, TestExamples runs it
			out, code := runBin(t, name, withTarget(w[3:], target)...)
			if code != 0 {
				t.Fatalf("exit status %d:\n%s", code, out)
			}
		}
	case len(w) >= 3 && w[0] == "go" && w[1] == "run" && w[2] == "./cmd/norikv":
		runNorikv(t, w[3:], target)
	case len(w) >= 3 && w[0] == "go" && w[1] == "test":
		coverGoTest(t, w[2:], env)
	default:
		return false
	}
	return true
}

// runNorikv runs the built norikv command as the README shows it, pointed
// at the test's cluster.
func runNorikv(t *testing.T, args []string, target string) {
	if len(args) > 0 && args[0] == "serve" {
		// Ephemeral ports: 9001 may be taken on a shared machine; a
		// data directory of the test's own.
		args = append([]string(nil), args...)
		for i := range args {
			if args[i] == "--data-dir" && i+1 < len(args) {
				args[i+1] = t.TempDir()
			}
		}
		serveUntilInterrupt(t, append(args, "--port", "0"))
		return
	}
	switch {
	case len(args) == 1 && args[0] == "--help":
	case len(args) > 0 && args[0] == "bench":
		// The same command, shrunk to a moment on its own embedded
		// cluster: the figures come from full runs, not from tests.
		// A --target is pointed at the test's cluster.
		if slices.Contains(args, "--target") {
			args = withTarget(args, target)
		}
		args = append(args, "--duration", "300ms", "--concurrency", "2", "--keys", "50")
	case len(args) > 0 && args[0] == "conformance":
		// The full matrix is the conformance package's own test; here
		// one case over two transports shows the command works.
		args = append(withTarget(args, target), "--cases", "versions", "--transports", "grpc/pb/h2,conn/json/h1")
	default:
		args = withTarget(args, target)
	}
	out, code := runBin(t, "norikv", args...)
	if code != 0 {
		t.Fatalf("norikv %v: exit status %d:\n%s", args, code, out)
	}
}

func serveUntilInterrupt(t *testing.T, args []string) {
	bin := filepath.Join(binaries(t), "norikv"+exeSuffix()) // the build is not the command's minute
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = binEnv()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The banner: the cluster's shape, then a line per node.
	sc := bufio.NewScanner(stdout)
	if !sc.Scan() || !strings.HasPrefix(sc.Text(), "NoriKV development cluster: ") ||
		!sc.Scan() || !regexp.MustCompile(`^n1 127\.0\.0\.1:\d+$`).MatchString(sc.Text()) {
		_ = cmd.Process.Kill() // the test fails anyway; this only stops it
		_ = cmd.Wait()
		t.Fatalf("norikv %v: banner line %q", args, sc.Text())
	}
	go func() {
		for sc.Scan() { // drain, so the server never blocks on a full pipe
		}
	}()
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("norikv %v after SIGINT: %v", args, err)
	}
}

// withTarget points args at the test cluster: it replaces a --target
// value or appends one.
func withTarget(args []string, target string) []string {
	out := append([]string(nil), args...)
	for i, a := range out {
		if (a == "--target" || a == "-target") && i+1 < len(out) {
			out[i+1] = target
			return out
		}
	}
	return append(out, "--target", target)
}

// coverGoTest checks a "go test" command: its packages exist with tests,
// and every name its -run, -bench and -fuzz patterns spell out is a test,
// benchmark or fuzz target there. Env variables it sets must be read by
// the package's tests.
func coverGoTest(t *testing.T, args []string, env []string) {
	var pkgs, names []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case strings.HasPrefix(a, "./"):
			pkgs = append(pkgs, strings.TrimSuffix(strings.TrimPrefix(a, "./"), "/"))
		case a == "-run" || a == "-bench" || a == "-fuzz":
			if i+1 < len(args) {
				i++
				for n := range strings.SplitSeq(strings.Trim(args[i], "^$"), "|") {
					if n != "" && n != "." {
						names = append(names, n)
					}
				}
			}
		}
	}
	if len(pkgs) == 0 {
		t.Fatal("no package")
	}
	var src strings.Builder
	for _, p := range pkgs {
		files, _ := filepath.Glob(filepath.Join("..", p, "*_test.go"))
		if len(files) == 0 {
			t.Fatalf("./%s has no tests", p)
		}
		for _, f := range files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	for _, n := range names {
		if !regexp.MustCompile(`func ` + regexp.QuoteMeta(n) + `\(`).MatchString(src.String()) {
			t.Errorf("%v: no func %s in their tests", pkgs, n)
		}
	}
	for _, e := range env {
		name, _, _ := strings.Cut(e, "=")
		if !strings.Contains(src.String(), name) {
			t.Errorf("%v: tests do not read %s", pkgs, name)
		}
	}
}

func mustContain(t *testing.T, path, want string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), want) {
		t.Fatalf("%s does not contain %q", path, want)
	}
}

// shellWords splits a command line on spaces, honouring single quotes
// (enough for the README's commands).
func shellWords(s string) []string {
	var words []string
	var cur strings.Builder
	inWord, quoted := false, false
	for _, r := range s {
		switch {
		case r == '\'':
			quoted, inWord = !quoted, true
		case r == ' ' && !quoted:
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}
