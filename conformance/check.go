package conformance

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// describe renders an RPC outcome as "OK" or "CODE: message".
func describe(err error) string {
	if err == nil {
		return "OK"
	}
	if ce, ok := errors.AsType[*connect.Error](err); ok {
		return fmt.Sprintf("%s: %s", codeName(ce.Code()), ce.Message())
	}
	return err.Error()
}

// codeName spells codes as the contract does (NOT_FOUND, not not_found).
func codeName(c connect.Code) string {
	return strings.ToUpper(c.String())
}

// wantCode checks that err carries the code want.
func wantCode(err error, want connect.Code, what string) error {
	if err == nil {
		return fmt.Errorf("%s: want %s, got OK", what, codeName(want))
	}
	if got := connect.CodeOf(err); got != want {
		return fmt.Errorf("%s: want %s, got %s", what, codeName(want), describe(err))
	}
	return nil
}

// wantOK checks that err is nil.
func wantOK(err error, what string) error {
	if err != nil {
		return fmt.Errorf("%s: want OK, got %s", what, describe(err))
	}
	return nil
}

// absentForm reports whether a Get reply says the key does not exist, and
// in which of the two accepted forms: OK with no version (the contract's)
// or NOT_FOUND (the upstream Go test server's).
func absentForm(resp *v1.GetResponse, err error) (MissingKeyForm, bool) {
	switch {
	case err == nil && resp.GetVersion() == nil && len(resp.GetValue()) == 0:
		return MissingKeyOKNoVersion, true
	case connect.CodeOf(err) == connect.CodeNotFound:
		return MissingKeyNotFound, true
	}
	return MissingKeyUnseen, false
}

// wantAbsent checks a Get of a key that must not exist, accepting both
// forms and recording which one the target uses for the report.
func (c *cell) wantAbsent(resp *v1.GetResponse, err error, what string) error {
	if form, ok := absentForm(resp, err); ok {
		c.r.saw(form)
		return nil
	}
	if err == nil {
		return fmt.Errorf("%s: want the key absent (OK with no version, or NOT_FOUND), got OK with version %s and value %q", what, fmtVersion(resp.GetVersion()), resp.GetValue())
	}
	return fmt.Errorf("%s: want the key absent (OK with no version, or NOT_FOUND), got %s", what, describe(err))
}

// fmtVersion writes a version in the one textual form, "term:index".
func fmtVersion(v *v1.Version) string {
	if v == nil {
		return "<unset>"
	}
	return fmt.Sprintf("%d:%d", v.GetTerm(), v.GetIndex())
}

func sameVersion(a, b *v1.Version) bool {
	return a != nil && b != nil && a.GetTerm() == b.GetTerm() && a.GetIndex() == b.GetIndex()
}

// problems collects every violation a case finds, so one report line says
// all that is wrong instead of only the first thing. Violations that are a
// known defect are kept apart (finding), so the cell can be reported as
// that defect rather than as an unexplained failure.
type problems struct {
	lines    []string
	findings []Defect
	details  []string // what was seen, one line per finding
}

func (p *problems) add(err error) {
	var ce *caseError
	switch {
	case err == nil:
	case errors.As(err, &ce):
		p.lines = append(p.lines, ce.lines...)
		for i, d := range ce.findings {
			p.note(d, ce.details[i])
		}
	default:
		p.lines = append(p.lines, err.Error())
	}
}

func (p *problems) addf(format string, args ...any) {
	p.lines = append(p.lines, fmt.Sprintf(format, args...))
}

// finding records that the target shows defect d, and what showed it.
func (p *problems) finding(d Defect, format string, args ...any) { //nolint:goprintffuncname // named for the report's word; every case calls it
	p.note(d, fmt.Sprintf(format, args...))
}

func (p *problems) note(d Defect, detail string) {
	if p.has(d) {
		return // the first sighting says it; more would only repeat it
	}
	p.findings = append(p.findings, d)
	p.details = append(p.details, detail)
}

func (p *problems) has(d Defect) bool { return slices.Contains(p.findings, d) }

func (p *problems) err() error {
	if len(p.lines) == 0 && len(p.findings) == 0 {
		return nil
	}
	return &caseError{lines: p.lines, findings: p.findings, details: p.details}
}

// caseError is what a case returns when it found problems: runCell turns
// it into a finding when every problem is a known defect, else a failure.
type caseError struct {
	lines    []string
	findings []Defect
	details  []string
}

func (e *caseError) Error() string {
	lines := e.lines
	// One broken rule can cascade into dozens of lines; the first few say
	// what is wrong.
	const show = 10
	if len(lines) > show {
		lines = append(lines[:show:show], fmt.Sprintf("… and %d more", len(lines)-show))
	}
	for i, d := range e.findings {
		lines = append(lines, fmt.Sprintf("%s: %s; %s", d, e.details[i], d.Impact()))
	}
	return strings.Join(lines, "\n")
}

// isUnimplemented reports whether err says the target lacks the RPC.
func isUnimplemented(err error) bool { return connect.CodeOf(err) == connect.CodeUnimplemented }

// asConnect is errors.As for *connect.Error.
func asConnect(err error, target **connect.Error) bool { return errors.As(err, target) }
