package conformance

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// The JUnit XML form of a report, for CI systems that gate on test
// results: one <testcase> per case × transport, named
// "<case>/<transport>" in class "conformance". A skip is <skipped> with
// its reason; a failure is <failure type="fail">; a finding is a
// <failure type="finding"> naming the defects, since a target with
// findings breaks the contract (the command exits 1 on either). The
// suite's properties (what the target speaks, the forms it uses, the
// run's prefix) go in <properties>.

type junitSuites struct {
	XMLName xml.Name `xml:"testsuites"`
	Name    string   `xml:"name,attr"`
	junitTotals
	Suites []junitSet `xml:"testsuite"`
}

type junitSet struct {
	Name string `xml:"name,attr"`
	junitTotals
	Properties []junitProperty `xml:"properties>property"`
	Cases      []junitCase     `xml:"testcase"`
}

// junitTotals are the counts both levels carry: the one suite's are the
// document's.
type junitTotals struct {
	Tests    int    `xml:"tests,attr"`
	Failures int    `xml:"failures,attr"`
	Errors   int    `xml:"errors,attr"`
	Skipped  int    `xml:"skipped,attr"`
	Time     string `xml:"time,attr"`
}

type junitProperty struct {
	Name  string `xml:"name,attr"`
	Value string `xml:"value,attr"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Skipped   *junitMessage `xml:"skipped"`
	Failure   *junitMessage `xml:"failure"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Type    string `xml:"type,attr,omitempty"`
	Text    string `xml:",chardata"`
}

// WriteJUnit writes the report as JUnit XML.
func (r *Report) WriteJUnit(w io.Writer) error {
	n := r.Counts()
	set := junitSet{Name: "norikv conformance", junitTotals: junitTotals{
		Tests: len(r.Results), Failures: n.Fail + n.Finding, Skipped: n.Skip,
		Time: seconds(r.Elapsed.Seconds()),
	}}
	speaksFrom := r.speaksFrom()
	set.Properties = []junitProperty{
		{"speaks", strings.Join(r.Speaks, ",")},
		{"speaks_from", speaksFrom},
		{"view_over", r.ViewOver},
		{"missing_key", string(formText(string(r.MissingKey)))},
		{"leader_hint", string(formText(string(r.LeaderHint)))},
		{"prefix", r.Prefix},
	}
	for _, res := range r.Results {
		c := junitCase{Name: res.Case + "/" + res.Transport, ClassName: "conformance", Time: seconds(res.Duration.Seconds())}
		first, _, _ := strings.Cut(res.Reason, "\n")
		switch res.Status {
		case StatusSkip:
			c.Skipped = &junitMessage{Message: res.Reason}
		case StatusFail:
			c.Failure = &junitMessage{Message: first, Type: "fail", Text: res.Reason}
		case StatusFinding:
			names := make([]string, len(res.Findings))
			for i, d := range res.Findings {
				names[i] = d.String()
			}
			c.Failure = &junitMessage{Message: "known defect: " + strings.Join(names, ", "), Type: "finding", Text: res.Reason}
		}
		set.Cases = append(set.Cases, c)
	}
	doc := junitSuites{Name: set.Name, junitTotals: set.junitTotals, Suites: []junitSet{set}}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}

func seconds(s float64) string { return fmt.Sprintf("%.3f", s) }
