package conformance

import (
	"encoding/json"
	"time"
)

// The JSON form of a report follows the convention of every --json output
// of the norikv command: snake_case names, durations in milliseconds as
// numbers (fractions allowed), empty lists as [] rather than null, and
// lower-case values.

type resultJSON struct {
	Case       string   `json:"case"`
	Transport  string   `json:"transport"`
	Status     Status   `json:"status"`
	Reason     string   `json:"reason"`
	Findings   []Defect `json:"findings"`
	DurationMs float64  `json:"duration_ms"`
}

type countsJSON struct {
	Pass    int `json:"pass"`
	Fail    int `json:"fail"`
	Finding int `json:"finding"`
	Skip    int `json:"skip"`
}

type findingJSON struct {
	Defect Defect `json:"defect"`
	Name   string `json:"name"`
	Impact string `json:"impact"`
	Cells  int    `json:"cells"` // cells that met it
}

type reportJSON struct {
	Cases      []string       `json:"cases"`
	Transports []string       `json:"transports"`
	Results    []resultJSON   `json:"results"`
	Counts     countsJSON     `json:"counts"`
	Findings   []findingJSON  `json:"findings"`
	MissingKey MissingKeyForm `json:"missing_key"`
	LeaderHint LeaderHintForm `json:"leader_hint"`
	Speaks     []string       `json:"speaks"`
	SpeaksHow  string         `json:"speaks_from"` // "probed" or "declared"
	ViewOver   string         `json:"view_over"`
	Prefix     string         `json:"prefix"`
	ElapsedMs  float64        `json:"elapsed_ms"`
}

// MarshalJSON writes the result as the --json convention has it:
// {"case", "transport", "status", "reason", "findings", "duration_ms"}.
func (r Result) MarshalJSON() ([]byte, error) { return json.Marshal(r.toJSON()) }

func (r Result) toJSON() resultJSON {
	return resultJSON{
		Case: r.Case, Transport: r.Transport, Status: r.Status, Reason: r.Reason,
		Findings: nonNil(r.Findings), DurationMs: millis(r.Duration),
	}
}

// MarshalJSON writes the report as the --json convention has it, with the
// counts and, per defect found, its name, impact and number of cells. It
// has a value receiver so a Report marshals the same way as a *Report.
func (r Report) MarshalJSON() ([]byte, error) {
	n := r.Counts()
	out := reportJSON{
		Cases: nonNil(r.Cases), Transports: nonNil(r.Transports), Results: []resultJSON{},
		Counts:     countsJSON(n),
		Findings:   []findingJSON{},
		MissingKey: r.MissingKey, LeaderHint: r.LeaderHint,
		Speaks: nonNil(r.Speaks), ViewOver: r.ViewOver,
		Prefix: r.Prefix, ElapsedMs: millis(r.Elapsed),
	}
	out.SpeaksHow = r.speaksFrom()
	cells := map[Defect]int{}
	for _, res := range r.Results {
		out.Results = append(out.Results, res.toJSON())
		for _, d := range res.Findings {
			cells[d]++
		}
	}
	for _, d := range r.Findings() {
		out.Findings = append(out.Findings, findingJSON{Defect: d, Name: d.String(), Impact: d.Impact(), Cells: cells[d]})
	}
	return json.Marshal(out)
}

// MarshalText writes the form, "not_observed" when no case met it.
func (f MissingKeyForm) MarshalText() ([]byte, error) { return formText(string(f)), nil }

// MarshalText writes the form, "not_observed" when no case met it.
func (f LeaderHintForm) MarshalText() ([]byte, error) { return formText(string(f)), nil }

func formText(s string) []byte {
	if s == "" {
		return []byte("not_observed")
	}
	return []byte(s)
}

// millis is d in milliseconds, to the microsecond.
func millis(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
