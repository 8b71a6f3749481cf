package conformance

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Status is the outcome of one (case, transport) cell.
type Status int

// The outcomes. A skip always carries a reason: the transport cannot carry
// the case, or the target lacks the feature, or the run may not do it. A
// finding is a failure the suite recognises as a known production defect
// (see Defect): the target breaks the contract, in a way that has a name,
// a known consequence for users and a known workaround, so it is reported
// apart from failures nobody has explained yet.
const (
	StatusPass Status = iota
	StatusFail
	StatusSkip
	StatusFinding
)

// String is the status as the table prints it: "pass", "FAIL", "skip" or
// "finding" (an unexplained failure in capitals, so it stands out in a
// grid).
func (s Status) String() string {
	switch s {
	case StatusPass:
		return "pass"
	case StatusFail:
		return "FAIL"
	case StatusSkip:
		return "skip"
	case StatusFinding:
		return "finding"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText makes a Status readable in JSON reports, in lower case like
// every value there: "pass", "fail", "skip" or "finding".
func (s Status) MarshalText() ([]byte, error) { return []byte(strings.ToLower(s.String())), nil }

// Defect is a known way production NoriKV servers break the contract. Its
// value is a stable snake_case name, for scripts reading --json; String
// is the name people read.
type Defect string

// The known defects (CONTRACT.md, "Known upstream defects").
const (
	// DefectDeleteIfMatchIgnored: Delete accepts if_match and deletes
	// whatever the key's version (the Rust server).
	DefectDeleteIfMatchIgnored Defect = "delete_if_match_ignored"
	// DefectIdempotencyIgnored: a replay with the same idempotency_key is
	// applied again and answered with a new version.
	DefectIdempotencyIgnored Defect = "idempotency_keys_ignored"
	// DefectIdempotencyReuseUnchecked: a different request under a used
	// idempotency_key is answered with the first request's result and
	// dropped, instead of refused with INVALID_ARGUMENT (the Rust server's
	// cache).
	DefectIdempotencyReuseUnchecked Defect = "idempotency_key_reuse_unchecked"
	// DefectLeaderHintsMissing: NOT_LEADER replies carry no leader-hint
	// (the Rust server builds it on a response it then drops).
	DefectLeaderHintsMissing Defect = "leader_hints_missing"
	// DefectSessionsUnsupported: the cluster view does not announce client
	// sessions (wire.SessionCapability; the Rust server), so the SDK
	// stamps no automatic idempotency keys on writes to it.
	DefectSessionsUnsupported Defect = "idempotency_sessions_unsupported"
)

// KnownDefects lists every Defect the suite detects.
func KnownDefects() []Defect {
	return []Defect{DefectDeleteIfMatchIgnored, DefectIdempotencyIgnored, DefectIdempotencyReuseUnchecked, DefectLeaderHintsMissing, DefectSessionsUnsupported}
}

// defectText holds each defect's name for people and what it costs a user
// of this SDK.
var defectText = map[Defect]struct{ name, impact string }{
	DefectDeleteIfMatchIgnored: {"if_match on Delete ignored",
		"data loss for users relying on it: a Delete with norikv.IfMatch removes a key another writer has changed since it was read"},
	DefectIdempotencyIgnored: {"idempotency keys ignored",
		"a write retried after a timeout or a dropped reply is applied twice"},
	DefectIdempotencyReuseUnchecked: {"idempotency key reuse unchecked",
		"a write that reuses an idempotency key by mistake is silently dropped and answered with the earlier write's version"},
	DefectLeaderHintsMissing: {"leader hints missing",
		"clients cannot follow a moved leader from the reply; they wait for the cluster view, so calls are slower after a leader change"},
	DefectSessionsUnsupported: {"idempotency sessions unsupported",
		"the SDK sends writes without automatic idempotency keys: one that fails ambiguously (a timeout, a lost reply) is reported as ErrOutcomeUnknown instead of retried, unless the caller gives WithIdempotencyKey"},
}

// String is the defect's name as the report prints it.
func (d Defect) String() string {
	if t, ok := defectText[d]; ok {
		return t.name
	}
	return string(d)
}

// Impact says what the defect costs a user of this SDK.
func (d Defect) Impact() string { return defectText[d].impact }

// MissingKeyForm is how a target answers Get of a key that does not exist.
type MissingKeyForm string

// The forms. Both real forms are accepted: clients map each to not found.
const (
	MissingKeyUnseen      MissingKeyForm = ""              // no case read a missing key
	MissingKeyOKNoVersion MissingKeyForm = "ok_no_version" // OK, empty value, no version: the contract's and the Rust server's
	MissingKeyNotFound    MissingKeyForm = "not_found"     // NOT_FOUND: the upstream Go SDK's test server's
	MissingKeyMixed       MissingKeyForm = "mixed"         // both, depending on the cell
)

func (f MissingKeyForm) describe() string {
	switch f {
	case MissingKeyOKNoVersion:
		return "OK with no version (the contract's form, as the Rust server sends it)"
	case MissingKeyNotFound:
		return "NOT_FOUND (the upstream Go test server's form; accepted, the contract's is OK with no version)"
	case MissingKeyMixed:
		return "both OK with no version and NOT_FOUND, depending on the cell (both accepted)"
	}
	return "not observed"
}

// LeaderHintForm is what a target puts in leader-hint on NOT_LEADER.
type LeaderHintForm string

// The forms. An address and a node id are both accepted; no hint at all is
// the finding DefectLeaderHintsMissing.
const (
	LeaderHintUnseen  LeaderHintForm = ""        // no case met a NOT_LEADER reply
	LeaderHintAddress LeaderHintForm = "address" // host:port: the contract's form, what every SDK dials
	LeaderHintNodeID  LeaderHintForm = "node_id" // older servers' form
	LeaderHintMissing LeaderHintForm = "missing" // no hint
	LeaderHintMixed   LeaderHintForm = "mixed"   // several of the above, depending on the cell
)

func (f LeaderHintForm) describe() string {
	switch f {
	case LeaderHintAddress:
		return "the leader's address (the contract's form)"
	case LeaderHintNodeID:
		return "the leader's node id (older servers' form; accepted, the contract's is the address)"
	case LeaderHintMissing:
		return "absent (finding: " + DefectLeaderHintsMissing.String() + ")"
	case LeaderHintMixed:
		return "differs between cells (see the findings and failures)"
	}
	return "not observed"
}

// Result is the outcome of one case over one transport.
type Result struct {
	Case      string
	Transport string
	Status    Status
	// Reason explains a fail, a finding or a skip; empty for a pass.
	Reason string
	// Findings are the known defects the cell met, each once. A cell that
	// also broke a rule no defect explains is StatusFail and still lists
	// them.
	Findings []Defect
	Duration time.Duration
}

// Report is the outcome of a run: one Result per (case, transport).
type Report struct {
	// Cases and Transports are the rows and columns, in run order.
	Cases      []string
	Transports []string
	// Results holds one entry per cell, ordered by case then transport.
	Results []Result
	// MissingKey and LeaderHint are the forms the target was seen to use
	// where the contract allows, or allowed, more than one.
	MissingKey MissingKeyForm
	LeaderHint LeaderHintForm
	// Speaks lists the transports the target serves, in matrix order, as
	// the probes found (of the declared ones, when SpeaksDeclared: the
	// features were declared, Options.Speaks). Cells over other
	// transports were skipped (or, when asked for, failed).
	Speaks         []string
	SpeaksDeclared bool
	// Unserved lists the transports the run was told to judge
	// (Options.Transports or Options.Speaks) that the target does not
	// serve; their cells failed.
	Unserved []string
	// ViewOver is the transport the cluster view was read over, "" when
	// the target gave none.
	ViewOver string
	// Prefix is the run's key and namespace prefix, to find leftovers.
	Prefix string
	// Elapsed is the wall time of the whole run.
	Elapsed time.Duration
}

// Failed reports whether any cell failed in a way no known defect
// explains. Skips and findings do not count; see Findings.
func (r *Report) Failed() bool { return r.Counts().Fail > 0 }

// Findings lists the known defects the target showed, each once, in the
// order of KnownDefects. A target with findings breaks the contract even
// when Failed is false.
func (r *Report) Findings() []Defect {
	seen := map[Defect]bool{}
	for _, res := range r.Results {
		for _, d := range res.Findings {
			seen[d] = true
		}
	}
	out := []Defect{}
	for _, d := range KnownDefects() {
		if seen[d] {
			out = append(out, d)
		}
	}
	return out
}

// Counts are a report's cells by status.
type Counts struct {
	Pass, Fail, Finding, Skip int
}

// Counts counts the cells by status.
func (r *Report) Counts() Counts {
	var n Counts
	for _, res := range r.Results {
		switch res.Status {
		case StatusPass:
			n.Pass++
		case StatusFail:
			n.Fail++
		case StatusFinding:
			n.Finding++
		case StatusSkip:
			n.Skip++
		}
	}
	return n
}

// Lookup returns the result of one cell.
func (r *Report) Lookup(caseName, transport string) (Result, bool) {
	for _, res := range r.Results {
		if res.Case == caseName && res.Transport == transport {
			return res, true
		}
	}
	return Result{}, false
}

// WriteTable prints the case × transport grid, then every fail and skip
// with its reason. Cells that share a status and reason are grouped so a
// reason that applies to a whole row or column is printed once.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', 0)
	shown, hidden := r.columns()
	fmt.Fprint(tw, "case\t")
	for _, t := range shown {
		fmt.Fprintf(tw, "%s\t", t)
	}
	fmt.Fprintln(tw)
	idx := map[[2]string]Result{}
	for _, res := range r.Results {
		idx[[2]string{res.Case, res.Transport}] = res
	}
	for _, c := range r.Cases {
		fmt.Fprintf(tw, "%s\t", c)
		for _, t := range shown {
			cell := "-"
			if res, ok := idx[[2]string{c, t}]; ok {
				cell = res.Status.String()
			}
			fmt.Fprintf(tw, "%s\t", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	n := r.Counts()
	findings := "" // a green run's line stays as short as it was
	if n.Finding > 0 {
		findings = fmt.Sprintf(", %d finding", n.Finding)
	}
	fmt.Fprintf(&b, "\n%d pass, %d fail, %d skip%s in %s (prefix %q)\n", n.Pass, n.Fail, n.Skip, findings, r.Elapsed.Round(time.Millisecond), r.Prefix)
	fmt.Fprintln(&b, "transports: protocol grpc | web = gRPC-Web | conn = Connect; codec pb = binary protobuf | json; h1 = HTTP/1.1 | h2 = HTTP/2")
	fmt.Fprintf(&b, "target speaks: %s\n", r.speaksLine())
	if len(hidden) > 0 {
		fmt.Fprintf(&b, "not in the table (every cell skipped for the transport, see SKIP): %s\n", strings.Join(hidden, ", "))
	}
	if r.ViewOver != "" {
		fmt.Fprintf(&b, "cluster view: read over %s\n", r.ViewOver)
	}
	fmt.Fprintf(&b, "missing key on Get: %s\n", r.MissingKey.describe())
	fmt.Fprintf(&b, "leader-hint: %s\n", r.LeaderHint.describe())

	for _, st := range []Status{StatusFail, StatusFinding, StatusSkip} {
		groups := r.group(st)
		if len(groups) == 0 {
			continue
		}
		if st == StatusFinding {
			fmt.Fprintln(&b, "\nFINDINGS (known production defects: the target breaks the contract in these known ways):")
		} else {
			fmt.Fprintf(&b, "\n%s reasons:\n", strings.ToUpper(st.String()))
		}
		for _, g := range groups {
			fmt.Fprintf(&b, "- %s\n", indent(g.reason))
			if g.varies {
				fmt.Fprintln(&b, "  (numbers above are from the first cell; they vary by cell)")
			}
			for _, line := range g.where(r) {
				fmt.Fprintf(&b, "    at %s\n", line)
			}
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// columns splits the transports into those the grid shows and those it
// leaves out: transports whose every cell was skipped for the transport's
// sake (gRPC cannot run over HTTP/1.1; the target does not serve it, or
// was declared not to). They would be columns of "skip" only; the skip
// reasons still name each once.
func (r *Report) columns() (shown, hidden []string) {
	unserved := map[string]bool{}
	for _, t := range r.Transports {
		unserved[t] = true
	}
	for _, res := range r.Results {
		if res.Status != StatusSkip || !transportSkip(res.Reason) {
			unserved[res.Transport] = false
		}
	}
	for _, t := range r.Transports {
		if unserved[t] {
			hidden = append(hidden, t)
		} else {
			shown = append(shown, t)
		}
	}
	return shown, hidden
}

// transportSkip reports whether a skip reason is about the transport, not
// the case.
func transportSkip(reason string) bool {
	return strings.HasPrefix(reason, "not served: ") || strings.HasPrefix(reason, "not declared: ") ||
		reason == (Transport{ProtocolGRPC, CodecProto, HTTP1}).unsupported()
}

// speaksLine says which transports the target speaks and how that was
// learnt, e.g. "grpc/pb/h2 only (probed; judged over those only)".
func (r *Report) speaksLine() string {
	how := r.speaksFrom()
	all := len(runnable(AllTransports()))
	if len(r.Speaks) == all {
		return fmt.Sprintf("%s (%s)", speaksText(r.Speaks, all), how)
	}
	return fmt.Sprintf("%s (%s; the others are not judged)", speaksText(r.Speaks, all), how)
}

// speaksFrom says how Speaks was learnt: "probed" or "declared".
func (r *Report) speaksFrom() string {
	if r.SpeaksDeclared {
		return "declared"
	}
	return "probed"
}

type group struct {
	reason string
	varies bool // cells' reasons differ in numbers (ids, addresses, timings)
	cells  []Result
}

// digits masks numbers so reasons that differ only in a node id, a port or
// a timing fall into one group.
var digits = regexp.MustCompile(`[0-9]+`)

func (r *Report) group(st Status) []group {
	var gs []group
	at := map[string]int{}
	for _, res := range r.Results {
		if res.Status != st {
			continue
		}
		key := digits.ReplaceAllString(res.Reason, "#")
		i, ok := at[key]
		if !ok {
			i = len(gs)
			at[key] = i
			gs = append(gs, group{reason: res.Reason})
		}
		if res.Reason != gs[i].reason {
			gs[i].varies = true
		}
		gs[i].cells = append(gs[i].cells, res)
	}
	return gs
}

// where lists a group's cells compactly: one line per case, "all
// transports" when the reason covers the whole row, and one line per
// transport when it covers the whole column.
func (g group) where(r *Report) []string {
	byCase := map[string][]string{}
	byTransport := map[string]int{}
	for _, c := range g.cells {
		byCase[c.Case] = append(byCase[c.Case], c.Transport)
		byTransport[c.Transport]++
	}
	// A reason that covers whole columns (e.g. "gRPC requires HTTP/2").
	if len(byCase) == len(r.Cases) && len(r.Cases) > 1 {
		whole := true
		for _, n := range byTransport {
			if n != len(r.Cases) {
				whole = false
			}
		}
		if whole {
			ts := make([]string, 0, len(byTransport))
			for t := range byTransport {
				ts = append(ts, t)
			}
			sort.Strings(ts)
			return []string{"all cases × " + strings.Join(ts, ", ")}
		}
	}
	var lines []string
	for _, c := range r.Cases {
		ts, ok := byCase[c]
		if !ok {
			continue
		}
		if len(ts) == len(r.Transports) {
			lines = append(lines, c+" × all transports")
			continue
		}
		lines = append(lines, c+" × "+strings.Join(ts, ", "))
	}
	return lines
}

func indent(s string) string { return strings.ReplaceAll(s, "\n", "\n  ") }
