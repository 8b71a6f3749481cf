package main

import (
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/norikv/norikv-go/conformance"
	"github.com/norikv/norikv-go/norikvtest"
)

// TestConformanceServesNoTransport: a target that answers but serves none
// of the transports gets one error line that says why for each one (the
// reasons once went to lines the command does not print).
func TestConformanceServesNoTransport(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusUnsupportedMediaType)
	}))
	defer srv.Close()
	c := &cli{t: t, target: srv.Listener.Addr().String()}
	c.fails(exitError, "; conn/pb/h1: not served: the target refused the content type", "conformance", "--cases", "versions")
	r := c.run("conformance", "--cases", "versions")
	if !strings.HasPrefix(r.stderr, "norikv conformance: "+srv.Listener.Addr().String()+" serves none") {
		t.Errorf("stderr %q: want the command's name once, then the target", r.stderr)
	}
}

// TestConformanceShardMismatch: told a shard count the cluster does not
// have, the command says so instead of blaming the server for versions.
func TestConformanceShardMismatch(t *testing.T) {
	c, _ := newCLI(t) // 64 shards
	c.fails(exitError, "shard count mismatch: the cluster has 64 shards, --shards says 16", "conformance", "--shards", "16", "--cases", "versions", "--transports", "conn/pb/h1")
}

// TestConformanceJSON: --json prints one object that follows the --json
// convention: snake_case names at every level, durations in milliseconds
// as numbers, empty lists as [].
func TestConformanceJSON(t *testing.T) {
	c, _ := newCLI(t)
	out := c.ok("conformance", "--json", "--cases", "versions,delete", "--transports", "conn/pb/h1,grpc/pb/h1")
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("--json printed %q: %v", out, err)
	}
	snake := regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)
	var walk func(path string, v any)
	walk = func(path string, v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if !snake.MatchString(k) {
					t.Errorf("%s: name %q is not snake_case", path, k)
				}
				walk(path+"."+k, e)
			}
		case []any:
			for i, e := range v {
				walk(fmt.Sprintf("%s[%d]", path, i), e)
			}
		case nil:
			t.Errorf("%s is null; an empty list must be []", path)
		}
	}
	walk("report", rep)
	if ms, ok := rep["elapsed_ms"].(float64); !ok || ms <= 0 || ms > 60_000 {
		t.Errorf("elapsed_ms = %#v, want milliseconds as a number", rep["elapsed_ms"])
	}
	results, _ := rep["results"].([]any)
	if len(results) != 4 {
		t.Fatalf("results = %v, want 4 cells", rep["results"])
	}
	for _, r := range results {
		r := r.(map[string]any)
		if _, ok := r["duration_ms"].(float64); !ok {
			t.Errorf("cell %v: duration_ms is not a number", r)
		}
		if f, ok := r["findings"].([]any); !ok || len(f) != 0 {
			t.Errorf("cell %v: findings = %#v, want []", r, r["findings"])
		}
	}
	if f, ok := rep["findings"].([]any); !ok || len(f) != 0 {
		t.Errorf("findings = %#v, want []", rep["findings"])
	}
}

// TestConformanceVerdict: a run with only findings is an error naming the
// defects (exit 1), a failure outranks them, a green run is no error.
func TestConformanceVerdict(t *testing.T) {
	cell := func(st conformance.Status, ds ...conformance.Defect) conformance.Result {
		return conformance.Result{Case: "c", Transport: "t", Status: st, Findings: ds}
	}
	for _, tc := range []struct {
		results []conformance.Result
		want    string
	}{
		{[]conformance.Result{cell(conformance.StatusPass), cell(conformance.StatusSkip)}, ""},
		{[]conformance.Result{cell(conformance.StatusPass), cell(conformance.StatusFinding, conformance.DefectDeleteIfMatchIgnored), cell(conformance.StatusFinding, conformance.DefectLeaderHintsMissing)},
			"the target has 2 known defects (if_match on Delete ignored, leader hints missing) in 2 of 3 cells: see FINDINGS"},
		{[]conformance.Result{cell(conformance.StatusFail, conformance.DefectIdempotencyIgnored), cell(conformance.StatusFinding, conformance.DefectLeaderHintsMissing)},
			"1 of 2 cells failed (0 passed, 0 skipped, 1 showed a known defect): the target violates the contract"},
	} {
		err := verdict(&conformance.Report{Results: tc.results})
		if got := fmt.Sprint(err); (tc.want == "" && err != nil) || (tc.want != "" && got != tc.want) {
			t.Errorf("verdict(%v) = %v, want %q", tc.results, err, tc.want)
		}
	}
}

// TestConformanceGRPCOnlyJUnit: against a gRPC-only cluster the command
// says what the target speaks, judges that alone and passes; --junit
// writes one test case per case × transport, the unserved ones skipped.
func TestConformanceGRPCOnlyJUnit(t *testing.T) {
	c, _ := newCLI(t, norikvtest.WithGRPCOnly())
	path := filepath.Join(t.TempDir(), "report.xml")
	out := c.ok("conformance", "--cases", "versions,watch", "--junit", path)
	for _, want := range []string{"target speaks: grpc/pb/h2 only (probed", "cluster view: read over grpc/pb/h2", "2 pass, 0 fail, 22 skip"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests   int `xml:"tests,attr"`
		Skipped int `xml:"skipped,attr"`
		Cases   []struct {
			Name    string    `xml:"name,attr"`
			Skipped *struct{} `xml:"skipped"`
		} `xml:"testsuite>testcase"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("--junit wrote %s: %v", b, err)
	}
	if doc.Tests != 24 || doc.Skipped != 22 || len(doc.Cases) != 24 || doc.Cases[1].Name != "versions/grpc/pb/h2" || doc.Cases[1].Skipped != nil {
		t.Errorf("JUnit: tests %d skipped %d cases %d, second %+v", doc.Tests, doc.Skipped, len(doc.Cases), doc.Cases[1])
	}
	c.fails(exitUsage, `--speaks: unknown feature "xml"`, "conformance", "--speaks", "grpc,xml")
	c.fails(exitError, "the target does not serve conn/pb/h1, which the run was asked to judge (it speaks grpc/pb/h2); 1 of 1 cells failed", "conformance", "--cases", "versions", "--transports", "conn/pb/h1", "--json")
}
