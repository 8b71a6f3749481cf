package norikv

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/norikv/norikv-go/interceptors"
)

type suspectRecorder struct {
	BaseObserver
	mu       sync.Mutex
	attempts []interceptors.Attempt
}

func (r *suspectRecorder) AttemptEnd(_ context.Context, _ *interceptors.Call, a *interceptors.Attempt) {
	r.mu.Lock()
	r.attempts = append(r.attempts, interceptors.Attempt{N: a.N, Node: a.Node, Suspect: a.Suspect, Reason: a.Reason})
	r.mu.Unlock()
}

// An attempt that times out at a node that accepted the connection and
// never answered is reported with Suspect set.
func TestObserverSuspect(t *testing.T) {
	hung, _ := tcpListener(t, true)
	rec := &suspectRecorder{}
	c, err := New(Config{
		Nodes: []string{hung}, TotalShards: 1, DisableWatch: true, Observer: rec, Timeout: time.Second,
		Retry: RetryConfig{MaxAttempts: 2, AttemptTimeout: 50 * time.Millisecond, InitialDelay: time.Millisecond, Jitter: -1},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := c.Get(context.Background(), "k"); err == nil {
		t.Fatal("Get from a hung node succeeded")
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	if len(rec.attempts) != 2 {
		t.Fatalf("attempts %+v, want 2", rec.attempts)
	}
	for _, a := range rec.attempts {
		if !a.Suspect || a.Node != hung {
			t.Errorf("attempt %+v: want Suspect at %s", a, hung)
		}
	}
	if rec.attempts[1].Reason != interceptors.AttemptRetry {
		t.Errorf("attempt 2 reason %v, want retry", rec.attempts[1].Reason)
	}
}
