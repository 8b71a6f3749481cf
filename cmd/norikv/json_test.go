package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"
)

// One convention for every --json output (but conformance's, which has
// its own report): snake_case names, durations as numbers of
// milliseconds in fields named *_ms, and lists as [] rather than null.
func TestJSONConventionsEveryCommand(t *testing.T) {
	c, cl := newCLI(t)
	shard := itoa(cl.ShardOf([]byte("k")))
	to := map[bool]string{true: "n2", false: "n1"}[cl.Leader(cl.ShardOf([]byte("k"))) == "n1"]
	check := func(name string, out []byte, musts ...string) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(out))
		for dec.More() {
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Errorf("%s: not JSON: %v\n%s", name, err, out)
				return
			}
			for _, p := range jsonProblems("", v) {
				t.Errorf("%s: %s in %.300s", name, p, out)
			}
		}
		for _, m := range musts {
			if !strings.Contains(string(out), m) {
				t.Errorf("%s: output lacks %s:\n%s", name, m, out)
			}
		}
	}
	// An hour, not seconds: on a loaded machine the next command's start
	// took longer than a 1.5 s TTL ("get k --json: not found").
	check("put", c.execOK(nil, "put", "k", "v", "--ttl", "1h", "--json"), `"ttl_ms":3600000`)
	check("get", c.execOK(nil, "get", "k", "--json"))
	check("get missing", c.exec(nil, "get", "nope", "--json").stdout, `"found":false`)
	check("del", c.execOK(nil, "del", "k", "--json"))
	check("cluster", c.execOK(nil, "cluster", "--json"))
	check("cluster --shard", c.execOK(nil, "cluster", "--shard", shard, "--json"))
	check("cluster --key", c.execOK(nil, "cluster", "--key", "k", "--json"))

	p := startBinary(t, "watch", "--count", "1", "--json", "--target", c.target)
	p.waitLine(`"previous_epoch":0`)
	c.execOK(nil, "cluster", "transfer", "--shard", shard, "--to", to, "--json")
	if st := p.wait(); st != 0 {
		t.Fatalf("watch: exit status %d", st)
	}
	var watchOut []byte
	for _, l := range p.seen {
		if s, ok := strings.CutPrefix(l, "out: "); ok {
			watchOut = append(watchOut, s+"\n"...)
		}
	}
	check("watch", watchOut, `"removed_nodes":[]`)
	// The first line counts leaders per node rather than listing every
	// shard (it was 30 KB at 1024 shards).
	if first, _, _ := strings.Cut(string(watchOut), "\n"); !strings.Contains(first, `"initial":true`) || !strings.Contains(first, `"leaders_per_node":{"n1":`) || len(first) > 512 {
		t.Errorf("watch's first line: %s", first)
	}
	check("cluster transfer", c.execOK(nil, "cluster", "transfer", "--shard", shard, "--to", to, "--json"))

	check("vector create", c.execOK(nil, "vector", "create", "ns", "--dims", "2", "--json"))
	check("vector insert", c.execOK(nil, "vector", "insert", "ns", "a", "1,0", "--json"))
	check("vector search", c.execOK(nil, "vector", "search", "ns", "1,0", "--json"), `"search_time_ms":`)
	check("vector search none", c.execOK(nil, "vector", "search", "ns", "1,0", "--json"), `"matches":[`)
	check("vector get", c.execOK(nil, "vector", "get", "ns", "a", "--json"))
	check("vector del", c.execOK(nil, "vector", "del", "ns", "a", "--json"))
	check("vector search empty", c.execOK(nil, "vector", "search", "ns", "1,0", "--json"), `"matches":[]`)
	check("vector drop", c.execOK(nil, "vector", "drop", "ns", "--json"))
	check("bench", c.execOK(nil, "bench", "--duration", "200ms", "--concurrency", "2", "--keys", "20", "--json"),
		`"elapsed_ms":`, `"p99_ms":`, `"first_errors": []`)
}

var snakeCase = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// jsonProblems lists what in v breaks the convention.
func jsonProblems(path string, v any) []string {
	var out []string
	switch v := v.(type) {
	case nil:
		out = append(out, path+" is null")
	case map[string]any:
		for k, e := range v {
			p := strings.TrimPrefix(path+"."+k, ".")
			switch {
			case path == ".meta" || path == "meta" || path == "result.per_op":
				// keys are data (metadata names, operation names)
			case !snakeCase.MatchString(k):
				out = append(out, p+": name is not snake_case")
			case regexp.MustCompile(`_(ns|us|s)$`).MatchString(k) && !strings.HasSuffix(k, "_per_s"): // a rate is fine
				out = append(out, p+": a duration not in milliseconds")
			}
			if _, isNum := e.(float64); strings.HasSuffix(k, "_ms") && !isNum {
				out = append(out, fmt.Sprintf("%s: a duration that is not a number (%v)", p, e))
			}
			out = append(out, jsonProblems(p, e)...)
		}
	case []any:
		for i, e := range v {
			out = append(out, jsonProblems(fmt.Sprintf("%s[%d]", path, i), e)...)
		}
	case string:
		if _, err := time.ParseDuration(v); err == nil && v != "0" {
			out = append(out, fmt.Sprintf("%s: a duration as a string (%q)", path, v))
		}
	}
	return out
}
