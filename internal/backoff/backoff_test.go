package backoff

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPolicyDelayGrowsAndCaps(t *testing.T) {
	p := Policy{Initial: 10 * time.Millisecond, Max: 80 * time.Millisecond}
	ms := time.Millisecond
	want := []time.Duration{10 * ms, 20 * ms, 40 * ms, 80 * ms, 80 * ms, 80 * ms}
	for i, w := range want {
		if got := p.Delay(i); got != w {
			t.Errorf("Delay(%d) = %v, want %v", i, got, w)
		}
	}
}

func TestPolicyJitterBounded(t *testing.T) {
	p := Policy{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond, Jitter: 5 * time.Millisecond}
	for range 1000 {
		d := p.Delay(3)
		if d < 10*time.Millisecond || d >= 15*time.Millisecond {
			t.Fatalf("Delay = %v, want [10ms,15ms)", d)
		}
	}
}

func TestSleepCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	start := time.Now()
	if err := Sleep(ctx, time.Minute); !errors.Is(err, context.Canceled) {
		t.Fatalf("Sleep err = %v", err)
	}
	if el := time.Since(start); el > time.Second {
		t.Fatalf("Sleep returned after %v", el)
	}
}

func TestBudget(t *testing.T) {
	b := NewBudget(0.1, 3, 10)
	for i := range 3 {
		if !b.Withdraw() {
			t.Fatalf("withdraw %d refused", i)
		}
	}
	if b.Withdraw() {
		t.Fatal("empty budget allowed a retry")
	}
	for range 10 { // 10 requests at 10% earn one retry
		b.Deposit()
	}
	if !b.Withdraw() || b.Withdraw() {
		t.Fatal("want exactly one retry after 10 requests")
	}
	for range 1000 {
		b.Deposit()
	}
	if got := b.Tokens(); got != 10 {
		t.Fatalf("tokens = %d, want cap 10", got)
	}
	var nilB *Budget
	if !nilB.Withdraw() {
		t.Fatal("nil budget must allow")
	}
}

func TestOrFillsZeroFieldsFromNamedPolicy(t *testing.T) {
	got := Policy{Initial: time.Millisecond, Jitter: -1}.Or(WatchReconnect)
	want := Policy{Name: "WatchReconnect", Initial: time.Millisecond, Max: WatchReconnect.Max}
	if got != want {
		t.Fatalf("Or = %+v, want %+v", got, want)
	}
	if (Policy{}).Or(CallRetry) != CallRetry {
		t.Fatal("zero policy did not take the defaults")
	}
}

func TestBackoffersCountApart(t *testing.T) {
	a := New(Policy{Name: "A", Initial: time.Millisecond, Max: time.Millisecond})
	// B's delay is an hour, so "cut short" needs no clock bound: a
	// loaded machine once took 4.5 ms over a cancelled 1 ms one.
	b := New(Policy{Name: "B", Initial: time.Hour, Max: time.Hour})
	ctx := context.Background()
	for i := range 3 {
		if err := a.Sleep(ctx, i); err != nil {
			t.Fatal(err)
		}
	}
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	if err := b.Sleep(cancelled, 0); err == nil {
		t.Fatal("Sleep ignored a cancelled ctx")
	}
	if s := a.Stats(); s.Policy != "A" || s.Count != 3 || s.Slept < 3*time.Millisecond {
		t.Fatalf("A stats = %+v", s)
	}
	if s := b.Stats(); s.Policy != "B" || s.Count != 1 || s.Slept >= time.Minute {
		t.Fatalf("B stats = %+v", s)
	}
}

// A cancelled ctx ends Sleep with its error even when the delay has
// already passed by the time Sleep looks (here 1 ns, always).
func TestSleepHonoursCancelledCtx(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var ignored int
	for range 1000 {
		if Sleep(ctx, time.Nanosecond) == nil {
			ignored++
		}
	}
	if ignored > 0 {
		t.Fatalf("Sleep returned nil for a cancelled ctx %d times in 1000", ignored)
	}
}
