package reliability

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	norikv "github.com/norikv/norikv-go/client"
)

// OpKind is the kind of a recorded Kv call.
type OpKind uint8

const (
	OpPut    OpKind = iota // Put without a precondition
	OpCAS                  // Put with IfMatch
	OpGet                  // Get
	OpDelete               // Delete without a precondition
)

func (k OpKind) String() string {
	return [...]string{"put", "cas", "get", "delete"}[k]
}

// Input is a recorded call.
type Input struct {
	Kind    OpKind
	Key     string
	Value   string         // put, cas
	IfMatch norikv.Version // cas
}

// Output is a call's result. Unknown means the outcome is not known (the
// call failed in a way that does not say whether the write was applied);
// such calls are recorded with an open-ended return time.
type Output struct {
	Unknown bool
	// OK: put/cas applied (false for a cas that lost: version mismatch),
	// get found the key. Unused for delete: the SDK's Delete does not
	// say whether a live key was removed.
	OK      bool
	Value   string         // get
	Version norikv.Version // put, cas, get
}

// kvState is the model's state of one key: absent, or a value with its
// version. VersionKnown is false after a write whose result was lost: the
// value is known but the version it got is not (the next read learns it).
type kvState struct {
	Exists       bool
	Value        string
	Version      norikv.Version
	VersionKnown bool
}

// KVModel is the porcupine model of the Kv service for one key, with
// histories partitioned by key. Versions make it strict: a read must see
// the version of the write it observes, so a write applied twice (two
// versions for one call) is caught whenever a read sees the first one.
var KVModel = (&porcupine.NondeterministicModel{
	Partition: partitionByKey,
	Init:      func() []any { return []any{kvState{}} },
	Step:      step,
	Equal:     func(a, b any) bool { return a.(kvState) == b.(kvState) },
	DescribeOperation: func(in, out any) string {
		i, o := in.(Input), out.(Output)
		if o.Unknown {
			return fmt.Sprintf("%s(%q,%q,if=%v) -> ?", i.Kind, i.Key, i.Value, i.IfMatch)
		}
		return fmt.Sprintf("%s(%q,%q,if=%v) -> ok=%v %q %v", i.Kind, i.Key, i.Value, i.IfMatch, o.OK, o.Value, o.Version)
	},
	DescribeState: func(s any) string { return fmt.Sprintf("%+v", s.(kvState)) },
}).ToModel()

func partitionByKey(history []porcupine.Operation) [][]porcupine.Operation {
	byKey := map[string][]porcupine.Operation{}
	var keys []string
	for _, op := range history {
		k := op.Input.(Input).Key
		if _, ok := byKey[k]; !ok {
			keys = append(keys, k)
		}
		byKey[k] = append(byKey[k], op)
	}
	out := make([][]porcupine.Operation, 0, len(keys))
	for _, k := range keys {
		out = append(out, byKey[k])
	}
	return out
}

// step returns every state the key can be in after the call. A call with
// an unknown outcome may or may not have been applied, so it yields both.
func step(state, input, output any) []any {
	s, in, out := state.(kvState), input.(Input), output.(Output)
	written := kvState{Exists: true, Value: in.Value}
	switch in.Kind {
	case OpPut:
		if out.Unknown {
			return []any{written, s}
		}
		written.Version, written.VersionKnown = out.Version, true
		return []any{written}
	case OpCAS:
		mayMatch := s.Exists && (!s.VersionKnown || s.Version == in.IfMatch)
		mustMatch := s.Exists && s.VersionKnown && s.Version == in.IfMatch
		switch {
		case out.Unknown && mayMatch:
			return []any{written, s}
		case out.Unknown:
			return []any{s}
		case out.OK && mayMatch:
			written.Version, written.VersionKnown = out.Version, true
			return []any{written}
		case !out.OK && !mustMatch:
			return []any{s}
		}
		return nil
	case OpGet:
		switch {
		case out.Unknown:
			return []any{s}
		case !out.OK && !s.Exists:
			return []any{s}
		case out.OK && s.Exists && s.Value == out.Value && (!s.VersionKnown || s.Version == out.Version):
			s.Version, s.VersionKnown = out.Version, true
			return []any{s}
		}
		return nil
	case OpDelete:
		if out.Unknown {
			return []any{kvState{}, s}
		}
		return []any{kvState{}}
	}
	return nil
}

// Recorder collects a history of calls with client-side invocation and
// response times. It is safe for concurrent use.
type Recorder struct {
	start time.Time
	mu    sync.Mutex
	ops   []porcupine.Operation
}

// NewRecorder starts a history; times are measured from now.
func NewRecorder() *Recorder { return &Recorder{start: time.Now()} }

// Call marks a call's invocation; End the returned Pending when it returns.
func (r *Recorder) Call(client int, in Input) *Pending {
	return &Pending{r: r, client: client, in: in, call: time.Since(r.start).Nanoseconds()}
}

// Pending is a call in progress.
type Pending struct {
	r      *Recorder
	client int
	in     Input
	call   int64
}

// End records the call's result and returns its call and return times
// (math.MaxInt64 for an unknown outcome). A read with an unknown outcome
// says nothing and is left out of the history.
func (p *Pending) End(out Output) (call, ret int64) {
	ret = time.Since(p.r.start).Nanoseconds()
	if out.Unknown {
		if p.in.Kind == OpGet {
			return p.call, ret
		}
		// It may take effect at any time after its call, even after
		// every other call: leave it open-ended.
		ret = math.MaxInt64
	}
	p.r.mu.Lock()
	p.r.ops = append(p.r.ops, porcupine.Operation{ClientId: p.client, Input: p.in, Call: p.call, Output: out, Return: ret})
	p.r.mu.Unlock()
	return p.call, ret
}

// Operations returns the history so far.
func (r *Recorder) Operations() []porcupine.Operation {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]porcupine.Operation(nil), r.ops...)
}
