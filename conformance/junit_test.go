package conformance

import (
	"bytes"
	"encoding/xml"
	"strings"
	"testing"
	"time"
)

// TestReportJUnit: one testcase per cell, skips and failures marked with
// their reasons, findings as failures of type "finding" naming the
// defect, and counts that add up; the XML parses.
func TestReportJUnit(t *testing.T) {
	rep := &Report{
		Cases:      []string{"versions", "cas_delete"},
		Transports: []string{"grpc/pb/h2", "conn/pb/h1"},
		Results: []Result{
			{Case: "versions", Transport: "grpc/pb/h2", Status: StatusPass, Duration: 12 * time.Millisecond},
			{Case: "versions", Transport: "conn/pb/h1", Status: StatusSkip, Reason: "not served: the target answered HTTP/1.1 with HTTP/2 frames (it speaks HTTP/2 only)"},
			{Case: "cas_delete", Transport: "grpc/pb/h2", Status: StatusFinding, Reason: "if_match on Delete ignored: <deleted>", Findings: []Defect{DefectDeleteIfMatchIgnored}},
			{Case: "cas_delete", Transport: "conn/pb/h1", Status: StatusFail, Reason: "delete: want OK\nsecond line"},
		},
		Speaks: []string{"grpc/pb/h2"}, ViewOver: "grpc/pb/h2", Prefix: "p/", Elapsed: 1500 * time.Millisecond,
	}
	var b bytes.Buffer
	if err := rep.WriteJUnit(&b); err != nil {
		t.Fatal(err)
	}
	var doc junitSuites
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	set := doc.Suites[0]
	if doc.Tests != 4 || doc.Failures != 2 || doc.Skipped != 1 || set.Time != "1.500" || len(set.Cases) != 4 {
		t.Errorf("counts: tests %d failures %d skipped %d time %s cases %d\n%s", doc.Tests, doc.Failures, doc.Skipped, set.Time, len(set.Cases), b.String())
	}
	byName := map[string]junitCase{}
	for _, c := range set.Cases {
		byName[c.Name] = c
	}
	if c := byName["versions/grpc/pb/h2"]; c.Failure != nil || c.Skipped != nil || c.Time != "0.012" {
		t.Errorf("pass = %+v", c)
	}
	if c := byName["versions/conn/pb/h1"]; c.Skipped == nil || !strings.Contains(c.Skipped.Message, "HTTP/2 only") {
		t.Errorf("skip = %+v", c)
	}
	if c := byName["cas_delete/grpc/pb/h2"]; c.Failure == nil || c.Failure.Type != "finding" || c.Failure.Message != "known defect: if_match on Delete ignored" || !strings.Contains(c.Failure.Text, "<deleted>") {
		t.Errorf("finding = %+v", c)
	}
	if c := byName["cas_delete/conn/pb/h1"]; c.Failure == nil || c.Failure.Type != "fail" || c.Failure.Message != "delete: want OK" || !strings.Contains(c.Failure.Text, "second line") {
		t.Errorf("fail = %+v", c)
	}
	if !strings.Contains(b.String(), `<property name="speaks" value="grpc/pb/h2"></property>`) {
		t.Errorf("no speaks property:\n%s", b.String())
	}
}
