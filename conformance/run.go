package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// caseDef is one named rule of the contract.
type caseDef struct {
	name string
	// exclusive cases change the cluster (leaders move), so they run after
	// all others, one cell at a time, where they cannot disturb them.
	exclusive bool
	run       func(c *cell) error
}

// cases is the suite, in report order. Each file adds its own.
func cases() []caseDef {
	all := kvCases()
	all = append(all, limitCases()...)
	all = append(all, vectorCases()...)
	all = append(all, clusterCases()...)
	all = append(all, batchCases()...)
	all = append(all, sessionCases()...)
	return all
}

// CaseNames lists the suite's cases in report order.
func CaseNames() []string {
	all := cases()
	names := make([]string, 0, len(all))
	for _, c := range all {
		names = append(names, c.name)
	}
	return names
}

// Run checks target over the transport matrix and returns the report,
// judging the transports the target speaks (see Options.Speaks and
// Options.Transports). The error is non-nil when the run could not start
// (no address, no node reachable at all, a node that serves none of the
// transports, an unknown case or transport name) or when ctx ended
// it early; in the latter case the partial report is returned too. It is
// a *ShardCountError when Target.TotalShards differs from the cluster's
// own count. Rule violations are failures or findings in the report, not
// errors.
func Run(ctx context.Context, target Target, opts Options) (*Report, error) {
	start := time.Now()
	if len(target.Addrs) == 0 {
		return nil, errors.New("conformance: Target.Addrs is empty")
	}
	selCases, err := selectCases(opts.Cases)
	if err != nil {
		return nil, err
	}
	selTransports, err := selectTransports(opts.Transports)
	if err != nil {
		return nil, err
	}
	r, err := newRunner(ctx, target, opts, selTransports)
	if err != nil {
		return nil, err
	}
	defer r.close()

	rep := &Report{Prefix: r.prefix}
	for _, c := range selCases {
		rep.Cases = append(rep.Cases, c.name)
	}
	for _, t := range selTransports {
		rep.Transports = append(rep.Transports, t.String())
	}
	results := make([]Result, len(selCases)*len(selTransports))
	at := func(ci, ti int) *Result { return &results[ci*len(selTransports)+ti] }

	// Phase 1: independent cells, several at a time.
	sem := make(chan struct{}, opts.parallelism())
	var wg sync.WaitGroup
	for ci, c := range selCases {
		if c.exclusive {
			continue
		}
		for ti, t := range selTransports {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer func() { <-sem; wg.Done() }()
				*at(ci, ti) = r.runCell(ctx, c, t)
			}()
		}
	}
	wg.Wait()
	// Phase 2: cells that move leaders, alone.
	for ci, c := range selCases {
		if !c.exclusive {
			continue
		}
		for ti, t := range selTransports {
			*at(ci, ti) = r.runCell(ctx, c, t)
		}
	}
	rep.Results = results
	rep.MissingKey, rep.LeaderHint = r.forms()
	rep.Speaks, rep.SpeaksDeclared = r.speaks(), opts.Speaks != nil
	for _, t := range selTransports {
		if st, _ := r.unserved(t); st == StatusFail {
			rep.Unserved = append(rep.Unserved, t.String())
		}
	}
	if r.view != nil {
		rep.ViewOver = r.viewOver.String()
	}
	rep.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		// Cells cut short fail with the context's error; say so plainly
		// too, so a command interrupted by the user exits accordingly.
		return rep, fmt.Errorf("conformance: run interrupted: %w", err)
	}
	return rep, nil
}

func selectCases(names []string) ([]caseDef, error) {
	all := cases()
	if len(names) == 0 {
		return all, nil
	}
	var sel []caseDef
	for _, c := range all {
		if slices.Contains(names, c.name) {
			sel = append(sel, c)
		}
	}
	for _, n := range names {
		if !slices.ContainsFunc(all, func(c caseDef) bool { return c.name == n }) {
			return nil, fmt.Errorf("conformance: unknown case %q (known: %v)", n, CaseNames())
		}
	}
	return sel, nil
}

func selectTransports(names []string) ([]Transport, error) {
	all := AllTransports()
	if len(names) == 0 {
		return all, nil
	}
	var sel []Transport
	for _, t := range all {
		if slices.Contains(names, t.String()) {
			sel = append(sel, t)
		}
	}
	if len(sel) != len(names) {
		return nil, fmt.Errorf("conformance: unknown transport in %v (known: %v)", names, AllTransports())
	}
	return sel, nil
}

// runner holds what all cells share: the dialers, the cluster view learnt
// at the start and the run's prefix.
type runner struct {
	target  Target
	opts    Options
	prefix  string
	dialers map[Transport]*dialer

	// served says, per transport probed, whether the target serves it
	// (speaks.go); probeAddr is the address the probes reached.
	served    map[Transport]served
	probeAddr string

	// view is the first cluster view, or nil when the target has no usable
	// Meta service (viewErr says why); viewOver is the transport it was
	// read over.
	view        *v1.ClusterView
	viewErr     error
	viewOver    Transport
	totalShards int // 0 when unknown

	mu      sync.Mutex
	leaders map[uint32]string // shard → leader node id, refreshed by NOT_LEADER hints
	addrs   map[string]string // node id → addr
	missing map[MissingKeyForm]bool
	hints   map[LeaderHintForm]bool
}

// ShardCountError is Run's error when Target.TotalShards is not the number
// of shards in the cluster's view. Every key would be routed by the wrong
// count, and the cases would blame the server for versions and leaders
// that are in fact the run's mistake, so the run does not start.
type ShardCountError struct {
	Cluster    int // shards in the cluster view
	Configured int // Target.TotalShards
}

func (e *ShardCountError) Error() string {
	return fmt.Sprintf("conformance: shard count mismatch: the cluster has %d shards, the target was given %d (leave the count out to learn it from the cluster)", e.Cluster, e.Configured)
}

func newRunner(ctx context.Context, target Target, opts Options, sel []Transport) (*runner, error) {
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	r := &runner{
		target:  target,
		opts:    opts,
		prefix:  "conformance-" + hex.EncodeToString(rnd[:]) + "/",
		dialers: map[Transport]*dialer{},
		leaders: map[uint32]string{},
		addrs:   map[string]string{},
		missing: map[MissingKeyForm]bool{},
		hints:   map[LeaderHintForm]bool{},
	}
	for _, t := range AllTransports() {
		r.dialers[t] = newDialer(t, target)
	}
	// Which transports does the target speak? Probe every one it may
	// (declared, or all) and every one asked for, whatever the selection:
	// the view is read over any served transport, gRPC/h2 first.
	var probe []Transport
	for _, t := range AllTransports() {
		forced := len(opts.Transports) > 0 && slices.Contains(sel, t)
		if opts.Speaks == nil || opts.Speaks.Speaks(t) || forced {
			probe = append(probe, t)
		}
	}
	var err error
	if r.served, err = r.probe(ctx, probe); err != nil {
		r.close()
		return nil, err
	}
	var lastErr error
	order := r.viewOrder()
	if len(order) == 0 {
		lastErr = errors.New("no transport served to ask it over")
	}
discover:
	for _, t := range order {
		for _, a := range target.Addrs {
			view, err := firstView(ctx, r.dialers[t].to(a), 5*time.Second)
			if err == nil {
				r.view, r.viewOver = view, t
				lastErr = nil
				break discover
			}
			lastErr = fmt.Errorf("over %s: %w", t, err)
			if isUnimplemented(err) {
				break discover // the target has no Meta, whatever the transport
			}
		}
	}
	if lastErr != nil {
		r.viewErr = lastErr
	}
	r.totalShards = target.TotalShards
	if r.view != nil {
		n := len(r.view.GetShards())
		if r.totalShards != 0 && r.totalShards != n {
			r.close()
			return nil, &ShardCountError{Cluster: n, Configured: r.totalShards}
		}
		r.totalShards = n
		r.learn(r.view)
	}
	return r, nil
}

// saw records a form the target was seen to use.
func (r *runner) saw(form any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	switch f := form.(type) {
	case MissingKeyForm:
		r.missing[f] = true
	case LeaderHintForm:
		r.hints[f] = true
	}
}

// forms sums up what saw recorded: the one form seen, or mixed.
func (r *runner) forms() (MissingKeyForm, LeaderHintForm) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return oneOf(r.missing, MissingKeyMixed), oneOf(r.hints, LeaderHintMixed)
}

func oneOf[F ~string](seen map[F]bool, mixed F) F {
	var one F
	for f := range seen {
		if len(seen) > 1 {
			return mixed
		}
		one = f
	}
	return one
}

// knownAddr reports whether addr is a node of the view or of the target,
// the only places the suite will send the target's token to. Call it
// with r.mu held.
func (r *runner) knownAddr(addr string) bool {
	addr = stripScheme(addr)
	for _, a := range r.addrs {
		if stripScheme(a) == addr {
			return true
		}
	}
	return slices.ContainsFunc(r.target.Addrs, func(a string) bool { return stripScheme(a) == addr })
}

func (r *runner) learn(v *v1.ClusterView) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, n := range v.GetNodes() {
		r.addrs[n.GetId()] = n.GetAddr()
	}
	for _, s := range v.GetShards() {
		for _, rep := range s.GetReplicas() {
			if rep.GetLeader() {
				r.leaders[s.GetId()] = rep.GetNodeId()
			}
		}
	}
}

func (r *runner) close() {
	for _, d := range r.dialers {
		d.close()
	}
}

// firstView opens Meta.WatchCluster on one node and returns its first
// message, waiting at most wait for it.
func firstView(ctx context.Context, cl *clients, wait time.Duration) (*v1.ClusterView, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	stream, err := cl.meta.WatchCluster(ctx, &v1.ClusterView{})
	if err != nil {
		return nil, err
	}
	defer stream.Close()
	if !stream.Receive() {
		if err := stream.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New("WatchCluster ended before its first message")
	}
	return stream.Msg(), nil
}

func isNetError(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &oe) || errors.As(err, &ne)
}

// runCell runs one case over one transport and turns its error into a
// Result. A panic in a case is a failure of the suite, reported as such
// rather than crashing a command that embeds Run.
func (r *runner) runCell(ctx context.Context, c caseDef, t Transport) (res Result) {
	res = Result{Case: c.name, Transport: t.String()}
	if st, why := r.unserved(t); why != "" {
		res.Status, res.Reason = st, why
		return res
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, r.opts.cellTimeout())
	defer cancel()
	cl := &cell{ctx: ctx, r: r, d: r.dialers[t], t: t, tag: r.prefix + c.name + "/" + t.String() + "/"}
	defer func() {
		if p := recover(); p != nil {
			res.Status, res.Reason = StatusFail, fmt.Sprintf("suite panic: %v", p)
		}
		cl.cleanup()
		res.Duration = time.Since(start)
	}()
	err := c.run(cl)
	var sk skipError
	var ce *caseError
	switch {
	case err == nil:
		res.Status = StatusPass
	case errors.As(err, &sk):
		res.Status, res.Reason = StatusSkip, sk.reason
	case errors.As(err, &ce):
		res.Status, res.Reason, res.Findings = StatusFail, ce.Error(), ce.findings
		if len(ce.lines) == 0 {
			res.Status = StatusFinding
		}
	default:
		res.Status, res.Reason = StatusFail, err.Error()
	}
	return res
}

// unserved says what becomes of a cell over t when t cannot be judged:
// the protocol cannot carry it, or the target does not serve it (skipped
// with the reason, or failed when the run was told to judge t:
// Options.Transports names it, or Options.Speaks declares it). The
// reason is "" when the cell is to be run.
func (r *runner) unserved(t Transport) (Status, string) {
	sp := r.opts.Speaks
	forced := len(r.opts.Transports) > 0 // then every selected transport was asked for
	switch s, probed := r.served[t]; {
	case t.unsupported() != "":
		return StatusSkip, t.unsupported()
	case forced && s.ok:
		return StatusPass, ""
	case forced:
		return StatusFail, t.String() + " was asked for (--transports) but " + strings.TrimPrefix(s.reason, "not served: ")
	case sp != nil && !sp.Speaks(t):
		return StatusSkip, "not declared: the target declares it speaks " + speaksText(r.speaksDeclared(), len(runnable(AllTransports())))
	case !probed:
		return StatusSkip, "not probed"
	case sp != nil && !s.ok:
		return StatusFail, t.String() + " is declared (--speaks) but " + strings.TrimPrefix(s.reason, "not served: ")
	case !s.ok:
		return StatusSkip, s.reason
	}
	return StatusPass, ""
}

// speaksDeclared lists the transports the declared features name.
func (r *runner) speaksDeclared() []string {
	var out []string
	for _, t := range runnable(AllTransports()) {
		if r.opts.Speaks.Speaks(t) {
			out = append(out, t.String())
		}
	}
	return out
}

// skipError marks a cell as skipped: the target lacks a feature the case
// needs, or the run may not exercise it.
type skipError struct{ reason string }

func (s skipError) Error() string { return "skip: " + s.reason }

func skipf(format string, args ...any) error { return skipError{fmt.Sprintf(format, args...)} }
