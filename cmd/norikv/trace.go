package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	norikv "github.com/norikv/norikv-go/client"
	"github.com/norikv/norikv-go/interceptors"
)

// traceObserver is --trace: it prints each call of the command with its
// attempts (node, why, timing, outcome) to stderr, from the SDK's observer
// hook, so a redirect or a retry is plain to see:
//
//	trace Put shard=5 attempts=2 retries=0 redirects=1 ok 1.9ms
//	  #1 +0s      127.0.0.1:9001 first     0.6ms unavailable NOT_LEADER: ...
//	  #2 +0.7ms   127.0.0.1:9002 redirect  1.1ms ok
//
// and a hedged stale read, whose first request was cancelled:
//
//	trace Get shard=3 consistency=eventual attempts=2 retries=0 redirects=0 hedged (the hedge won) ok 2.4ms
//	  #1 +0s      127.0.0.1:9002 first     2.4ms canceled: context canceled
//	  #2 +2.0ms   127.0.0.1:9001 hedge     0.3ms ok
type traceObserver struct {
	norikv.BaseObserver
	w io.Writer

	mu       sync.Mutex
	attempts map[*interceptors.Call][]string
}

func newTraceObserver(w io.Writer) *traceObserver {
	return &traceObserver{w: w, attempts: map[*interceptors.Call][]string{}}
}

// ms prints d in milliseconds, to 0.1ms.
func ms(d time.Duration) string { return fmt.Sprintf("%.1fms", millis(d)) }

// outcome is "ok" or the error's first line.
func outcome(err error) string {
	if err == nil {
		return "ok"
	}
	return firstLine(err)
}

func (t *traceObserver) AttemptEnd(_ context.Context, call *interceptors.Call, a *interceptors.Attempt) {
	node := a.Node
	if node == "" {
		node = "(seed)"
	}
	line := fmt.Sprintf("  #%d +%-8s %s %-9s %s %s", a.N, ms(a.Start.Sub(call.Start)), node, a.Reason, ms(a.Duration), outcome(a.Err))
	if a.Suspect {
		line += " (timed out: node now suspect)"
	}
	t.mu.Lock()
	t.attempts[call] = append(t.attempts[call], line)
	t.mu.Unlock()
}

func (t *traceObserver) CallEnd(_ context.Context, call *interceptors.Call) {
	t.mu.Lock()
	lines := t.attempts[call]
	t.mu.Unlock()
	t.forget(call)
	var b strings.Builder
	fmt.Fprintf(&b, "trace %s", call.Operation)
	if call.Operations > 1 {
		fmt.Fprintf(&b, " operations=%d", call.Operations)
	}
	if call.Shard >= 0 {
		fmt.Fprintf(&b, " shard=%d", call.Shard)
	}
	if call.Consistency != "" {
		fmt.Fprintf(&b, " consistency=%s", call.Consistency)
	}
	fmt.Fprintf(&b, " attempts=%d retries=%d redirects=%d", call.Attempts, call.Retries, call.Redirects)
	if call.BudgetRejected {
		b.WriteString(" retry-budget-exhausted")
	}
	if call.HedgeWon {
		b.WriteString(" hedged (the hedge won)")
	} else if call.Hedged {
		b.WriteString(" hedged (the first won)")
	}
	fmt.Fprintf(&b, " %s %s\n", codeWord(call), ms(call.Duration))
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	_, _ = io.WriteString(t.w, b.String())
}

// forget drops call's attempts unprinted.
func (t *traceObserver) forget(call *interceptors.Call) {
	t.mu.Lock()
	delete(t.attempts, call)
	t.mu.Unlock()
}

// codeWord is "ok" or the call's code.
func codeWord(call *interceptors.Call) string {
	if call.Err == nil {
		return "ok"
	}
	return call.Code.String()
}
