package norikv

import (
	"errors"
	"fmt"
	"math"
	"os/exec"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
)

func TestVersionStringParsesBack(t *testing.T) {
	for _, v := range []Version{{}, {1, 1}, {3, 17}, {math.MaxUint64, math.MaxUint64}} {
		s := v.String()
		if strings.Count(s, ":") != 1 {
			t.Fatalf("%#v.String() = %q, want term:index", v, s)
		}
		got, err := ParseVersion(s)
		if err != nil || got != v {
			t.Fatalf("ParseVersion(%q) = %v, %v; want %#v", s, got, err, v)
		}
	}
	if s := (Version{Term: 3, Index: 17}).String(); s != "3:17" {
		t.Fatalf("String = %q, want 3:17", s)
	}
}

func TestParseVersionRejectsBadInput(t *testing.T) {
	for in, want := range map[string]string{
		"":                       `version "": empty (want term:index, e.g. 3:17)`,
		"17":                     `version "17": missing ":index"`,
		"3.17":                   `version "3.17": missing ":index"`,
		"x:17":                   `version "x:17": term "x" is not an unsigned integer`,
		"3:":                     `version "3:": index "" is not an unsigned integer`,
		"3:-1":                   `version "3:-1": index "-1" is not an unsigned integer`,
		"3:17:1":                 `version "3:17:1": index "17:1" is not an unsigned integer`,
		"18446744073709551616:1": `term "18446744073709551616" is not an unsigned integer`,
		" 3:17":                  `term " 3" is not an unsigned integer`,
	} {
		v, err := ParseVersion(in)
		var e *Error
		if !errors.As(err, &e) || e.Code != connect.CodeInvalidArgument || !strings.Contains(err.Error(), want) || !v.IsZero() {
			t.Errorf("ParseVersion(%q) = %v, %v; want an invalid_argument *Error containing %q", in, v, err, want)
		}
	}
}

// go doc on an alias shows only its comment: the comment must list what
// the type offers, since it is defined in package interceptors.
func TestGoDocOfAliasesIsSelfSufficient(t *testing.T) {
	for name, wants := range map[string][]string{
		"Error":           {"Code Code", "Message string", "Operation string", "Key string", "Namespace string", "Error() string", "Unwrap() []error", "interceptors.Error", "var e *norikv.Error", "errors.As(err, &e)"},
		"ConnectionError": {"Addr string", "Err error", "Unwrap() error", "interceptors.ConnectionError", "var ce *norikv.ConnectionError"},
		"Code":            {"CodeNotFound", "connect.Code"},
	} {
		out, err := exec.Command("go", "doc", ".", name).CombinedOutput()
		if err != nil {
			t.Fatalf("go doc %s: %v\n%s", name, err, out)
		}
		flat := strings.Join(strings.Fields(string(out)), " ") // the comment aligns columns
		for _, w := range wants {
			if !strings.Contains(flat, w) {
				t.Errorf("go doc %s lacks %q:\n%s", name, w, out)
			}
		}
		if strings.Contains(string(out), "&*") {
			t.Errorf("go doc %s shows invalid Go (&*T):\n%s", name, out)
		}
	}
}

// The codes users compare Error.Code against need no connect import.
func TestCodesReexported(t *testing.T) {
	var e *Error
	_, err := ParseVersion("x")
	if !errors.As(err, &e) || e.Code != CodeInvalidArgument || CodeNotFound != connect.CodeNotFound || CodeUnavailable != connect.CodeUnavailable {
		t.Fatalf("code %v", e)
	}
}

func TestStatsString(t *testing.T) {
	s := Stats{
		Pool:     PoolStats{ActiveConnections: 2, Dialed: 3, DialFailures: 1},
		Router:   RouterStats{TotalNodes: 3, TotalShards: 1024},
		Topology: TopologyStats{Epoch: 7, CachedLeaders: 1024, ViewUpdates: 4, Watching: true},
		Requests: RequestStats{Total: 21, Retries: 2, Redirects: 1, Failures: 1, BudgetExhausted: 0, BudgetTokens: 10, AutoKeyed: 15, Unkeyed: 2},
		Backoff: BackoffStats{
			CallRetry:      PolicyStats{Policy: "CallRetry", Count: 2, Time: 150 * time.Millisecond},
			WatchReconnect: PolicyStats{Policy: "WatchReconnect"},
		},
		Hedges:   HedgeStats{Sent: 4, Won: 3, Refused: 1, Delay: 2 * time.Millisecond},
		Replicas: []ReplicaStats{{Addr: "h:1", Reads: 90, Latency: 310 * time.Microsecond}, {Addr: "h:2", Reads: 5, Latency: 20 * time.Millisecond}},
	}
	want := "pool: 2 connections open, 3 dialed, 1 dial failures; router: 3 nodes, 1024 shards; " +
		"topology: epoch 7, 1024 cached leaders, 4 views applied, watching; " +
		"requests: 21 total, 2 retries, 1 redirects, 1 failures, 0 refused by the retry budget, 10 budget tokens, 15 writes auto-keyed, 2 unkeyed; " +
		"backoff: 2 call retry waits (150ms), 0 watch reconnect waits (0s); " +
		"hedges: 4 sent, 3 won, 1 refused by the hedge budget, delay 2ms; stale reads: h:1 90 (310µs), h:2 5 (20ms)"
	if got := fmt.Sprint(s); got != want {
		t.Fatalf("fmt.Sprint(stats) =\n%s\nwant\n%s", got, want)
	}
}
