package conformance

import (
	"errors"
	"fmt"
	"strings"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
)

// describe renders an RPC outcome as "OK" or "CODE: message".
func describe(err error) string {
	if err == nil {
		return "OK"
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
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

// wantNotFound checks a Get of a key that must be absent. The contract
// requires NOT_FOUND; the upstream server's OK with an unset version is
// named explicitly because it is the likely deviation.
func wantNotFound(resp *v1.GetResponse, err error, what string) error {
	if err == nil {
		if resp.GetVersion() == nil {
			return fmt.Errorf("%s: want NOT_FOUND, got OK with an unset version (the upstream deviation; the contract requires NOT_FOUND)", what)
		}
		return fmt.Errorf("%s: want NOT_FOUND, got OK with version %s", what, fmtVersion(resp.GetVersion()))
	}
	return wantCode(err, connect.CodeNotFound, what)
}

func fmtVersion(v *v1.Version) string {
	if v == nil {
		return "<unset>"
	}
	return fmt.Sprintf("(term %d, index %d)", v.GetTerm(), v.GetIndex())
}

func sameVersion(a, b *v1.Version) bool {
	return a != nil && b != nil && a.GetTerm() == b.GetTerm() && a.GetIndex() == b.GetIndex()
}

// problems collects every violation a case finds, so one report line says
// all that is wrong instead of only the first thing.
type problems []string

func (p *problems) add(err error) {
	if err != nil {
		*p = append(*p, err.Error())
	}
}

func (p *problems) addf(format string, args ...any) {
	*p = append(*p, fmt.Sprintf(format, args...))
}

func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	// One broken rule can cascade into dozens of lines; the first few say
	// what is wrong.
	const show = 10
	if len(p) > show {
		p = append(p[:show:show], fmt.Sprintf("… and %d more", len(p)-show))
	}
	return errors.New(strings.Join(p, "\n"))
}

// isUnimplemented reports whether err says the target lacks the RPC.
func isUnimplemented(err error) bool { return connect.CodeOf(err) == connect.CodeUnimplemented }

// asConnect is errors.As for *connect.Error.
func asConnect(err error, target **connect.Error) bool { return errors.As(err, target) }
