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
// the case, or the target lacks the feature, or the run may not do it.
const (
	StatusPass Status = iota
	StatusFail
	StatusSkip
)

// String is the status as the table prints it: "pass", "FAIL" or "skip"
// (a failure in capitals, so it stands out in a grid).
func (s Status) String() string {
	switch s {
	case StatusPass:
		return "pass"
	case StatusFail:
		return "FAIL"
	case StatusSkip:
		return "skip"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText makes a Status readable in JSON reports ("pass", "FAIL",
// "skip").
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Result is the outcome of one case over one transport.
type Result struct {
	Case      string
	Transport string
	Status    Status
	// Reason explains a fail or a skip; empty for a pass.
	Reason   string
	Duration time.Duration
}

// Report is the outcome of a run: one Result per (case, transport).
type Report struct {
	// Cases and Transports are the rows and columns, in run order.
	Cases      []string
	Transports []string
	// Results holds one entry per cell, ordered by case then transport.
	Results []Result
	// Prefix is the run's key and namespace prefix, to find leftovers.
	Prefix string
	// Elapsed is the wall time of the whole run.
	Elapsed time.Duration
}

// Failed reports whether any cell failed. Skips do not count as failures.
func (r *Report) Failed() bool {
	for _, res := range r.Results {
		if res.Status == StatusFail {
			return true
		}
	}
	return false
}

// Counts returns how many cells passed, failed and were skipped.
func (r *Report) Counts() (pass, fail, skip int) {
	for _, res := range r.Results {
		switch res.Status {
		case StatusPass:
			pass++
		case StatusFail:
			fail++
		case StatusSkip:
			skip++
		}
	}
	return
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
	fmt.Fprint(tw, "case\t")
	for _, t := range r.Transports {
		fmt.Fprintf(tw, "%s\t", t)
	}
	fmt.Fprintln(tw)
	idx := map[[2]string]Result{}
	for _, res := range r.Results {
		idx[[2]string{res.Case, res.Transport}] = res
	}
	for _, c := range r.Cases {
		fmt.Fprintf(tw, "%s\t", c)
		for _, t := range r.Transports {
			cell := "-"
			if res, ok := idx[[2]string{c, t}]; ok {
				cell = res.Status.String()
			}
			fmt.Fprintf(tw, "%s\t", cell)
		}
		fmt.Fprintln(tw)
	}
	tw.Flush()
	pass, fail, skip := r.Counts()
	fmt.Fprintf(&b, "\n%d pass, %d fail, %d skip in %s (prefix %q)\n", pass, fail, skip, r.Elapsed.Round(time.Millisecond), r.Prefix)
	fmt.Fprintln(&b, "transports: protocol grpc | web = gRPC-Web | conn = Connect; codec pb = binary protobuf | json; h1 = HTTP/1.1 | h2 = HTTP/2")

	for _, st := range []Status{StatusFail, StatusSkip} {
		groups := r.group(st)
		if len(groups) == 0 {
			continue
		}
		fmt.Fprintf(&b, "\n%s reasons:\n", strings.ToUpper(st.String()))
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
