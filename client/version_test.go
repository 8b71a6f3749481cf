package norikv

import (
	"errors"
	"math"
	"strings"
	"testing"

	"connectrpc.com/connect"
)

func TestVersionStringParsesBack(t *testing.T) {
	for _, v := range []Version{{}, {1, 1}, {3, 17}, {math.MaxUint64, math.MaxUint64}} {
		s := v.String()
		if strings.Count(s, ":") != 1 {
			t.Fatalf("%#v.String() = %q, want term:index", v, s)
		}
		got, err := ParseVersion(s)
		if err != nil || got != v {
			t.Fatalf("ParseVersion(%q) = %v, %v; want %#v", s, got, err, v)
		}
	}
	if s := (Version{Term: 3, Index: 17}).String(); s != "3:17" {
		t.Fatalf("String = %q, want 3:17", s)
	}
}

func TestParseVersionRejectsBadInput(t *testing.T) {
	for in, want := range map[string]string{
		"":                       `version "": empty (want term:index, e.g. 3:17)`,
		"17":                     `version "17": missing ":index"`,
		"3.17":                   `version "3.17": missing ":index"`,
		"x:17":                   `version "x:17": term "x" is not an unsigned integer`,
		"3:":                     `version "3:": index "" is not an unsigned integer`,
		"3:-1":                   `version "3:-1": index "-1" is not an unsigned integer`,
		"3:17:1":                 `version "3:17:1": index "17:1" is not an unsigned integer`,
		"18446744073709551616:1": `term "18446744073709551616" is not an unsigned integer`,
		" 3:17":                  `term " 3" is not an unsigned integer`,
	} {
		v, err := ParseVersion(in)
		var e *Error
		if !errors.As(err, &e) || e.Code != connect.CodeInvalidArgument || !strings.Contains(err.Error(), want) || !v.IsZero() {
			t.Errorf("ParseVersion(%q) = %v, %v; want an invalid_argument *Error containing %q", in, v, err, want)
		}
	}
}
