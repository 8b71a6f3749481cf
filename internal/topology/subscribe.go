package topology

import "sync"

// maxQueued bounds one subscriber's backlog. A callback that falls this far
// behind loses the oldest events rather than growing memory without bound;
// the watcher itself never waits for a callback.
const maxQueued = 1024

// subscriber delivers events to one callback on its own goroutine, so a
// slow callback delays only itself. The goroutine is not tracked by the
// Manager's WaitGroup: Close must not wait for a callback (which may be
// blocked, or be the one calling Close), and once stopped the goroutine
// delivers nothing more and exits when its callback returns.
type subscriber struct {
	fn     func(Event)
	mu     sync.Mutex
	queue  []Event
	closed bool
	wake   chan struct{} // cap 1
	quit   chan struct{}
	once   sync.Once
}

func (s *subscriber) stop() {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.queue = nil
		s.mu.Unlock()
		close(s.quit)
	})
}

func (s *subscriber) push(ev Event) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	if len(s.queue) >= maxQueued {
		s.queue = s.queue[1:]
	}
	s.queue = append(s.queue, ev)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *subscriber) loop() {
	for {
		select {
		case <-s.quit:
			return
		case <-s.wake:
		}
		for {
			s.mu.Lock()
			if s.closed || len(s.queue) == 0 {
				s.mu.Unlock()
				break
			}
			ev := s.queue[0]
			s.queue = s.queue[1:]
			s.mu.Unlock()
			s.fn(ev)
		}
	}
}

// Subscribe registers fn for every later topology change and returns a
// function that stops delivery. After unsubscribe or Close returns no new
// callback starts (one already running finishes). unsubscribe and Close
// are idempotent and may be called from inside fn. Each event's slices
// belong to the subscriber it is delivered to.
func (m *Manager) Subscribe(fn func(Event)) (unsubscribe func()) {
	s := &subscriber{fn: fn, wake: make(chan struct{}, 1), quit: make(chan struct{})}
	// Under applyMu, which a view holds from its install to its event's
	// publish: a view already visible (View, a Connect that returned) is
	// never delivered as a change to a subscriber that came after it.
	m.applyMu.Lock()
	defer m.applyMu.Unlock()
	m.subsMu.Lock()
	if m.w.ctx.Err() != nil {
		m.subsMu.Unlock()
		return func() {}
	}
	id := m.nextSub
	m.nextSub++
	m.subs[id] = s
	m.subsMu.Unlock()
	go s.loop()
	return func() {
		m.subsMu.Lock()
		delete(m.subs, id)
		m.subsMu.Unlock()
		s.stop()
	}
}

// publish queues ev for every subscriber without waiting for any. Each
// gets its own copy of the slices: a callback may sort or keep them.
func (m *Manager) publish(ev Event) {
	m.subsMu.Lock()
	defer m.subsMu.Unlock()
	for _, s := range m.subs {
		s.push(ev.clone())
	}
}
