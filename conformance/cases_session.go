package conformance

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"

	"connectrpc.com/connect"

	v1 "github.com/norikv/norikv-go/gen/norikv/v1"
	"github.com/norikv/norikv-go/internal/wire"
)

// Client sessions (docs/idempotency-sessions.md) are an addition to the
// contract: a target whose view does not announce them (the Rust server)
// gets the finding DefectSessionsUnsupported, not a failure, and no
// session key is sent to it (it might keep every key forever).
func sessionCases() []caseDef {
	return []caseDef{{name: "sessions", run: caseSessions}}
}

// caseSessions: against a target announcing sessions, a write retried
// after its reply was lost replays its first answer; once a later write's
// watermark passes it, a retry of it is refused (OUT_OF_RANGE), never
// applied again. A target that does not announce them must still serve
// plain writes and reads; it is named by the finding.
func caseSessions(c *cell) error {
	view, err := c.needView()
	if err != nil {
		return err
	}
	k := c.key("sess")
	c.cleanupKey(k)
	if !wire.HasCapability(view, wire.SessionCapability) {
		if _, err := c.mustPut(k, []byte("plain")); err != nil {
			return err
		}
		var p problems
		p.finding(DefectSessionsUnsupported, "the cluster view announces capabilities %q, not %q", view.GetCapabilities(), wire.SessionCapability)
		return p.err()
	}
	var raw [16]byte
	_, _ = rand.Read(raw[:])
	id := base64.RawURLEncoding.EncodeToString(raw[:])
	key := func(seq, low uint64) string { return string(wire.AppendSessionKey(nil, id, seq, low)) }

	first := &v1.PutRequest{Key: k, Value: []byte("first"), IdempotencyKey: key(1, 1)}
	r1, err := c.put(first)
	if err != nil {
		return fmt.Errorf("put with session key: %s", describe(err))
	}
	var p problems
	// The reply was lost: the client sends it again.
	if r2, err := c.put(first); err != nil || !sameVersion(r1.GetVersion(), r2.GetVersion()) {
		p.addf("a session write sent again answered %s %s, want the first version %s", fmtVersion(r2.GetVersion()), describe(err), fmtVersion(r1.GetVersion()))
	}
	second := &v1.PutRequest{Key: k, Value: []byte("second"), IdempotencyKey: key(2, 2)}
	r3, err := c.put(second)
	if err != nil {
		return fmt.Errorf("second session write: %s", describe(err))
	}
	// The watermark 2 said 1 is no longer awaited: its answer may be
	// gone, and it must not be applied again.
	_, err = c.put(first)
	p.add(wantCode(err, connect.CodeOutOfRange, "a retry below the session's watermark"))
	if g, gerr := c.get(&v1.GetRequest{Key: k}); gerr != nil || string(g.GetValue()) != "second" || !sameVersion(g.GetVersion(), r3.GetVersion()) {
		p.addf("get after a retry below the watermark: %q %s (%s), want \"second\" %s: the old write was applied again", g.GetValue(), fmtVersion(g.GetVersion()), describe(gerr), fmtVersion(r3.GetVersion()))
	}
	return p.err()
}
