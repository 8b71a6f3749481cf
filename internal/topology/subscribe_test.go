package topology

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// waitClosed fails t unless done is closed within a second.
func waitClosed(t *testing.T, done <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(time.Second):
		t.Fatal(what)
	}
}

func TestCloseFromCallback(t *testing.T) {
	f := &fakeWatch{views: make(chan *v1.ClusterView)}
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1, Watch: f.watch})
	done := make(chan struct{})
	m.Subscribe(func(Event) {
		m.Close()
		close(done)
	})
	m.Start()
	f.views <- view(1, "a")
	waitClosed(t, done, "Close called from a callback did not return")
}

func TestCloseWhileCallbackBlocks(t *testing.T) {
	f := &fakeWatch{views: make(chan *v1.ClusterView)}
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 1, Watch: f.watch})
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	m.Subscribe(func(Event) {
		if calls.Add(1) == 1 {
			close(entered)
		}
		<-release
	})
	m.Start()
	f.views <- view(1, "a")
	f.views <- view(2, "b") // queued behind the blocked callback
	<-entered
	closed := make(chan struct{})
	go func() {
		m.Close()
		close(closed)
	}()
	waitClosed(t, closed, "Close blocked on a blocked callback")
	close(release)
	// The subscriber goroutine exits once its callback returns, without
	// delivering the queued event.
	goleak.VerifyNone(t)
	if n := calls.Load(); n != 1 {
		t.Fatalf("callback ran %d times; an event was delivered after Close", n)
	}
}

// Each subscriber gets its own slices, so one may sort or modify them
// while another reads (run with -race).
func TestSubscribersOwnTheirSlices(t *testing.T) {
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: 2})
	defer m.Close()
	var wg sync.WaitGroup
	wg.Add(2 * 2)
	for range 2 {
		m.Subscribe(func(e Event) {
			defer wg.Done()
			slices.Reverse(e.AddedNodes)
			slices.Reverse(e.RemovedNodes)
			slices.Reverse(e.LeaderChanges)
			for i := range e.AddedNodes {
				e.AddedNodes[i] += "!"
			}
		})
	}
	m.Apply(view(1, "a", "b"))
	v := view(2, "b", "a")
	v.Nodes = append(v.Nodes[1:], &v1.ClusterNode{Id: "d", Addr: "d:1"}, &v1.ClusterNode{Id: "e", Addr: "e:1"})
	m.Apply(v)
	wg.Wait()
}

// A subscriber gets events only for views installed after it subscribed:
// one registered once a view is visible (View, or Connect returning) gets
// no event for that view. Views replace each other while subscribers come
// and go; each subscriber's first event must be newer than the view it
// saw when it subscribed.
func TestSubscribeSeesOnlyLaterViews(t *testing.T) {
	const shards, views = 256, 300
	m := New(Config{Seeds: []string{"s1:1"}, TotalShards: shards})
	defer m.Close()
	vs := make([]*v1.ClusterView, views)
	for i := range vs {
		leaders := make([]string, shards)
		for s := range leaders {
			leaders[s] = []string{"a", "b"}[i%2] // every leader moves: a long diff
		}
		vs[i] = view(uint64(i+1), leaders...)
	}
	applied := make(chan struct{})
	go func() {
		defer close(applied)
		for _, v := range vs {
			m.Apply(v)
		}
	}()
	var early []string
	for last := false; !last; {
		select {
		case <-applied:
			last = true
		default:
		}
		before := m.View().GetEpoch()
		got := make(chan Event, 1)
		unsubscribe := m.Subscribe(func(e Event) {
			select {
			case got <- e:
			default:
			}
		})
		var e Event
		select {
		case e = <-got:
		case <-applied:
			select {
			case e = <-got:
			case <-time.After(10 * time.Millisecond):
			}
		}
		unsubscribe()
		if e.CurrentEpoch != 0 && e.CurrentEpoch <= before {
			early = append(early, fmt.Sprintf("subscribed at epoch %d, got the event %d -> %d", before, e.PreviousEpoch, e.CurrentEpoch))
		}
	}
	if len(early) > 0 {
		t.Fatalf("%d subscribers got an event for a view installed before they subscribed; first: %s", len(early), early[0])
	}
}
