package conformance

import (
	"encoding/json"
	"reflect"
	"testing"
	"time"
)

// TestReportJSON: the report's JSON follows the one convention of every
// --json output: snake_case names, durations as milliseconds in numbers,
// empty lists as [] (never null), values in lower case.
func TestReportJSON(t *testing.T) {
	rep := &Report{
		Cases:      []string{"cas_delete"},
		Transports: []string{"conn/pb/h1", "conn/pb/h2"},
		Results: []Result{
			{Case: "cas_delete", Transport: "conn/pb/h1", Status: StatusFinding, Reason: "r", Findings: []Defect{DefectDeleteIfMatchIgnored}, Duration: 1500 * time.Microsecond},
			{Case: "cas_delete", Transport: "conn/pb/h2", Status: StatusFail, Reason: "boom", Duration: 2 * time.Millisecond},
		},
		MissingKey: MissingKeyOKNoVersion,
		Speaks:     []string{"conn/pb/h1", "conn/pb/h2"},
		ViewOver:   "conn/pb/h2",
		Prefix:     "p/",
		Elapsed:    1234567 * time.Microsecond,
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"cases":      []any{"cas_delete"},
		"transports": []any{"conn/pb/h1", "conn/pb/h2"},
		"results": []any{
			map[string]any{"case": "cas_delete", "transport": "conn/pb/h1", "status": "finding", "reason": "r", "findings": []any{"delete_if_match_ignored"}, "duration_ms": 1.5},
			map[string]any{"case": "cas_delete", "transport": "conn/pb/h2", "status": "fail", "reason": "boom", "findings": []any{}, "duration_ms": 2.0},
		},
		"counts": map[string]any{"pass": 0.0, "fail": 1.0, "finding": 1.0, "skip": 0.0},
		"findings": []any{map[string]any{
			"defect": "delete_if_match_ignored", "name": "if_match on Delete ignored",
			"impact": DefectDeleteIfMatchIgnored.Impact(), "cells": 1.0,
		}},
		"missing_key": "ok_no_version",
		"leader_hint": "not_observed",
		"speaks":      []any{"conn/pb/h1", "conn/pb/h2"},
		"speaks_from": "probed",
		"view_over":   "conn/pb/h2",
		"prefix":      "p/",
		"elapsed_ms":  1234.567,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("JSON =\n%s\nwant the same as\n%v", b, want)
	}

	// An empty report: lists are [], not null.
	b, err = json.Marshal(&Report{})
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	_ = json.Unmarshal(b, &got)
	for _, k := range []string{"cases", "transports", "results", "findings", "speaks"} {
		if l, ok := got[k].([]any); !ok || len(l) != 0 {
			t.Errorf("empty report: %s = %#v, want []", k, got[k])
		}
	}
}
